# UperNet with a CMID Swin-B (window 7) on ISPRS Potsdam, 512 x 512 crops, 5 classes
# (clutter ignored, as in the reference; paper: 88.36 mIoU).
# Data: mmseg's layout, made by python tools/dataset_converters/potsdam.py (mmseg).
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_swin-b_mmseg.pth --target mmseg
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    'mmseg::_base_/datasets/potsdam.py',
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
    decode_head=dict(in_channels=[128, 256, 512, 1024], num_classes=5),
    auxiliary_head=dict(in_channels=512, num_classes=5))

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

# The reference evaluates Potsdam on 5 classes, clutter/background ignored (its
# PotsdamDataset has 5 CLASSES and loads labels with ignore_index=6). mmseg's
# PotsdamDataset does the same when given these classes: label_map sends
# clutter to 255, the ignore index.
potsdam_5_classes = dict(
    classes=('impervious_surface', 'building', 'low_vegetation', 'tree', 'car'))
val_dataloader = dict(dataset=dict(metainfo=potsdam_5_classes))
test_dataloader = val_dataloader

# Schedule of the reference (official-CMID SemanticSegmentation/config): batch 8 on
# one GPU, 50 epochs, linear warm-up for 100 iterations, cosine to 1e-6,
# evaluation every 5 epochs.
train_dataloader = dict(
    batch_size=8,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(metainfo=potsdam_5_classes))
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
