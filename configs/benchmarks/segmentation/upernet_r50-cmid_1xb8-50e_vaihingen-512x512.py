# UperNet with a CMID ResNet-50 on ISPRS Vaihingen, 512 x 512 crops (paper: 79.44 mIoU).
# Data: mmseg's layout, made by python tools/dataset_converters/vaihingen.py (mmseg).
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_r50_mmseg.pth --target mmseg
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/vaihingen.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmseg'

crop_size = (512, 512)
pretrained = 'checkpoints/cmid_r50_mmseg.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    # CMID pretrains the plain ResNet-50 (7x7 stem), not mmseg's default ResNetV1c
    backbone=dict(
        type='ResNet',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(num_classes=6),
    auxiliary_head=dict(num_classes=6))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))

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
