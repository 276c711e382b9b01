# Schedule of the reference (official-CMID SemanticSegmentation/config): 50 epochs of
# batch 8 on one GPU (the batch is set in ../datasets), linear warm-up for 100
# iterations, cosine to 1e-6, evaluation and a checkpoint every 5 epochs. The optimiser
# is the backbone's: sgd_50e.py (ResNet-50) or adamw_50e.py (Swin-B).
_base_ = 'mmseg::_base_/schedules/schedule_80k.py'

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=50, eta_min=1e-6, by_epoch=True, begin=0, end=50,
         convert_to_iter_based=True),
]
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=50, val_interval=5)
default_hooks = dict(
    logger=dict(log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=5, max_keep_ckpts=2, save_best='mIoU'))
