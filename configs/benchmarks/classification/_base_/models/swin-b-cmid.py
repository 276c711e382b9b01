# mmpretrain's Swin-B classifier (window 7, drop path 0.5, Mixup/CutMix, label smoothing 0.1:
# the reference fine-tuning head) with the CMID student backbone.
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_swin-b_mmpretrain.pth --target mmpretrain
_base_ = 'mmpretrain::_base_/models/swin_transformer/base_224.py'

pretrained = 'checkpoints/cmid_swin-b_mmpretrain.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
