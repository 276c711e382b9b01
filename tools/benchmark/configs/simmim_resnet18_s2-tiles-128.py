# SimMIM (mmpretrain algorithm, decoder, loss) with a ResNet-18 student at 128 px: the CPU
# profile of ssl_compare.py. Same 32 px mask blocks at ratio 0.6 as the CPU CMID config.
_base_ = './simmim_resnet50_s2-tiles-224.py'

crop_size = 128
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.67, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='SimMIMMaskGenerator', input_size=crop_size, mask_patch_size=32,
         model_patch_size=4, mask_ratio=0.6),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(backbone=dict(depth=18), neck=dict(in_channels=512))
