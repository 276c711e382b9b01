# CMID, ViT-S/16 student (384 wide, 12 layers, 6 heads), otherwise as the ViT-B/16 config.
# mmpretrain's arch 'small' is the older 768-wide, 8-layer ViT-S; the common ViT-S/16
# (DeiT-S, DINO, iBOT, the reference's vit_small) is its 'deit-small'.
_base_ = ['cmid_vit-base-p16_4xb64-adan-200e_millionaid.py']
model = dict(
    backbone=dict(arch='deit-small'),
    neck=dict(in_channels=384),
    projector=dict(in_channels=384),
    local_head=dict(in_channels=384),
)
