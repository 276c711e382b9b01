# BYOL (mmpretrain recipe) with the stock mmpretrain Swin-B at 224 (same student as CMID Swin-B).
_base_ = './byol_resnet50_s2-tiles-224.py'

model = dict(
    backbone=dict(_delete_=True, type='SwinTransformer', arch='base', img_size=224,
                  drop_path_rate=0.1, out_indices=(3, )),
    neck=dict(in_channels=1024))
