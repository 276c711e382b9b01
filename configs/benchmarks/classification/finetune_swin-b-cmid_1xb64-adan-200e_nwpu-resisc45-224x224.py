# Full fine-tuning of a CMID Swin-B (window 7) on nwpu_resisc45 (reference recipe: drop path
# 0.5, Mixup/CutMix, label smoothing 0.1 - all in mmpretrain's swin base_224 model).
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_swin-b_mmpretrain.pth --target mmpretrain
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/base_224.py',
    './_base_/datasets/nwpu_resisc45.py',
    './_base_/schedules/adan_200e_finetune.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

pretrained = 'checkpoints/cmid_swin-b_mmpretrain.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(num_classes=45))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.absolute_pos_embed': dict(decay_mult=0.0),
            '.relative_position_bias_table': dict(decay_mult=0.0)
        }))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                                     save_best='accuracy/top1'))
