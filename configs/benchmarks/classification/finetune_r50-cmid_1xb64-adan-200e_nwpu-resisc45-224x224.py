# Full fine-tuning of a CMID ResNet-50 on nwpu_resisc45 (reference recipe, see _base_/schedules).
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_r50_mmpretrain.pth --target mmpretrain
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    './_base_/datasets/nwpu_resisc45.py',
    './_base_/schedules/adan_200e_finetune.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

pretrained = 'checkpoints/cmid_r50_mmpretrain.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(
        num_classes=45,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5)),
    # reference: timm Mixup(mixup 0.8, cutmix 1.0, label smoothing 0.1)
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                                     save_best='accuracy/top1'))
