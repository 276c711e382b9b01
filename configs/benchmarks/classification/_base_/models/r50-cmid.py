# mmpretrain's ResNet-50 classifier (plain 7x7 stem, as CMID pretrains it) with the CMID
# student backbone. Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#                                checkpoints/cmid_r50_mmpretrain.pth --target mmpretrain
_base_ = 'mmpretrain::_base_/models/resnet50.py'

pretrained = 'checkpoints/cmid_r50_mmpretrain.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
