# Oriented R-CNN (le90, FPN, 1x) with a CMID Swin-B (window 7) on DOTA v1.0 (paper: 77.36
# mAP): the R50 config (its data splits and test submission included) with the shared
# Swin-B backbone and AdamW optimiser of ../_base_/swin-b-cmid_adamw.py (the reference's
# Swin-B detection settings, instead of mmrotate's Swin-T backbone lr x 0.1).
_base_ = ['./oriented-rcnn-le90-fpn_r50-cmid_1xb2-1x_dota-1024x1024.py',
          '../_base_/swin-b-cmid_adamw.py']

pretrained = _base_.swin_b_pretrained
model = dict(backbone=dict(_delete_=True, **_base_.swin_b_backbone),
             neck=dict(in_channels=_base_.swin_b_channels))
optim_wrapper = dict(_delete_=True, **_base_.swin_b_optim_wrapper)
