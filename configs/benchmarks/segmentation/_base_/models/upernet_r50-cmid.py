# mmseg's UperNet with the plain ResNet-50 that CMID pretrains (7x7 stem), not mmseg's
# default ResNetV1c, initialised from the CMID student.
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_r50_mmseg.pth --target mmseg
_base_ = 'mmseg::_base_/models/upernet_r50.py'

pretrained = 'checkpoints/cmid_r50_mmseg.pth'
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    pretrained=None,
    backbone=dict(
        type='ResNet',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
