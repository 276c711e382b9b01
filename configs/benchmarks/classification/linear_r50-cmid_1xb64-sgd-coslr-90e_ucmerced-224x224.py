# Linear probe of a frozen CMID ResNet-50 on ucmerced: all stages frozen, BN in
# eval mode, only the linear head is trained (mmpretrain MoCo v3 protocol).
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_r50_mmpretrain.pth --target mmpretrain
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    './_base_/datasets/ucmerced.py',
    './_base_/schedules/sgd_coslr_90e_linear.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

pretrained = 'checkpoints/cmid_r50_mmpretrain.pth'
model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(num_classes=21))

# linear-probe augmentation: random resized crop + flip only
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                                     save_best='accuracy/top1'))
