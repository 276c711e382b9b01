# Barlow Twins (mmpretrain recipe) with ResNet-18 at 128 px: the CPU profile of ssl_compare.py.
# Projector width 4 x the backbone width C (2048), as the recipe's 2048 -> 8192 -> 8192.
_base_ = './barlowtwins_resnet50_s2-tiles-224.py'

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
    neck=dict(in_channels=512, hid_channels=2048, out_channels=2048),
    head=dict(in_channels=2048))
