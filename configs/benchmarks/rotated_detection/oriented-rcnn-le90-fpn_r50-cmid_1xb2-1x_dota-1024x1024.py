# Oriented R-CNN (le90, FPN, 1x) with a CMID ResNet-50 on DOTA v1.0, the paper's
# detection benchmark (paper: 76.63 mAP). mmrotate's stock config, only the
# backbone weights changed. Data: DOTA v1.0 cut into 1024 x 1024 patches by
# mmrotate's tools/data/dota/split/img_split.py (split_ss_dota layout).
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_r50_mmdet.pth --target mmrotate
_base_ = ['mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py']
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmrotate'

pretrained = 'checkpoints/cmid_r50_mmdet.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
