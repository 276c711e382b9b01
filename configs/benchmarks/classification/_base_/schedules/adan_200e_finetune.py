# Fine-tuning schedule of the reference (official-CMID Pretrain/ft_config.yaml):
# Adan, lr 3.125e-3, weight decay 0.02, 200 epochs, linear warm-up for 5
# epochs from 0.01 x lr, then cosine to 1e-6. The reference gives no batch
# size in that file; 64 on one GPU is used here (scale lr linearly if changed).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adan', lr=3.125e-3, weight_decay=0.02),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=195,
        eta_min=1e-6,
        by_epoch=True,
        begin=5,
        end=200,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
