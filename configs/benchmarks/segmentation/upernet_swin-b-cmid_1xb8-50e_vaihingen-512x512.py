# UperNet with a CMID Swin-B (window 7) on ISPRS Vaihingen, 512 x 512 crops (paper: 80.01 mIoU).
# Data: mmseg's layout, made by python tools/dataset_converters/vaihingen.py (mmseg).
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_swin-b_mmseg.pth --target mmseg
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    'mmseg::_base_/datasets/vaihingen.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmseg'

crop_size = (512, 512)
pretrained = 'checkpoints/cmid_swin-b_mmseg.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        embed_dims=128,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        window_size=7,
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[128, 256, 512, 1024], num_classes=6),
    auxiliary_head=dict(in_channels=512, num_classes=6))

# reference: AdamW 6e-5, weight decay 0.01, no decay on norms and position tables
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))

# Schedule of the reference (official-CMID SemanticSegmentation/config): batch 8 on
# one GPU, 50 epochs, linear warm-up for 100 iterations, cosine to 1e-6,
# evaluation every 5 epochs.
train_dataloader = dict(batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        T_max=50,
        eta_min=1e-6,
        by_epoch=True,
        begin=0,
        end=50,
        convert_to_iter_based=True),
]
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=50, val_interval=5)
default_hooks = dict(
    logger=dict(log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=5, max_keep_ckpts=2, save_best='mIoU'))
log_processor = dict(by_epoch=True)
val_evaluator = dict(iou_metrics=['mIoU', 'mFscore'])
test_evaluator = val_evaluator
