# DenseCL (mmpretrain recipe) with ResNet-18 at 128 px: the CPU profile of ssl_compare.py.
# Neck hidden width = backbone width C (512), as the recipe's 2048 -> 2048 -> 128.
_base_ = './densecl_resnet50_s2-tiles-224.py'

crop_size = 128
view_pipeline = [
    dict(t, scale=crop_size) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.view_pipeline
]
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(backbone=dict(depth=18), neck=dict(in_channels=512, hid_channels=512))
