# MoCo v3 (mmpretrain recipe) with ResNet-18 at 128 px: the CPU profile of ssl_compare.py.
# Projector and predictor hidden 2 x the backbone width C (1024), as the recipe's 4096 for
# C = 2048; the 256-d embedding is kept.
_base_ = './mocov3_resnet50_s2-tiles-224.py'

crop_size = 128
view_pipeline1, view_pipeline2 = (
    [dict(t, scale=crop_size) if t['type'] == 'RandomResizedCrop' else t for t in view]
    for view in (_base_.view_pipeline1, _base_.view_pipeline2))
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='MultiView', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=1024),
    head=dict(predictor=dict(hid_channels=1024)))
