# Linear probe of a frozen CMID Swin-B on nwpu_resisc45: patch embedding, all four stages
# and the output norm frozen; only the linear head is trained.
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_swin-b_mmpretrain.pth --target mmpretrain
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/base_224.py',
    './_base_/datasets/nwpu_resisc45.py',
    './_base_/schedules/sgd_coslr_90e_linear.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

pretrained = 'checkpoints/cmid_swin-b_mmpretrain.pth'
model = dict(
    backbone=dict(
        frozen_stages=3,
        drop_path_rate=0.0,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(
        num_classes=45,
        loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0),
        cal_acc=True),
    # no Mixup / CutMix for a linear probe
    train_cfg=dict(_delete_=True))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                                     save_best='accuracy/top1'))
