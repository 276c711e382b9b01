# Faster R-CNN + FPN with a CMID Swin-B (window 7) on DIOR (20 classes): the R50 config
# with the shared Swin-B backbone and AdamW optimiser of ../_base_/swin-b-cmid_adamw.py.
_base_ = ['./faster-rcnn-fpn_r50-cmid_1xb8-1x_dior-800x800.py', '../_base_/swin-b-cmid_adamw.py']

pretrained = _base_.swin_b_pretrained
model = dict(backbone=dict(_delete_=True, **_base_.swin_b_backbone),
             neck=dict(in_channels=_base_.swin_b_channels))
optim_wrapper = dict(_delete_=True, **_base_.swin_b_optim_wrapper)
