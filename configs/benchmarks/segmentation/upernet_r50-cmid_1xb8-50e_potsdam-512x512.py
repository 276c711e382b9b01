# UperNet with a CMID ResNet-50 on ISPRS Potsdam, 512 x 512 crops, 5 classes
# (clutter ignored, as in the reference; paper: 87.35 mIoU).
# Data: mmseg's layout, made by python tools/dataset_converters/potsdam.py (mmseg).
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_r50_mmseg.pth --target mmseg
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/potsdam.py',
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
    decode_head=dict(num_classes=5),
    auxiliary_head=dict(num_classes=5))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))

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
