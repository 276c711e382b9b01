# SimMIM (mmpretrain algorithm, decoder, loss) with a ResNet-18 student at 128 px: the CPU
# profile of ssl_compare.py. Same 32 px mask blocks at ratio 0.6 as the CPU CMID config.
_base_ = './simmim_resnet50_s2-tiles-224.py'

crop_size = 128
train_pipeline = [
    dict(t, scale=crop_size) if t['type'] == 'RandomResizedCrop' else
    dict(t, input_size=crop_size) if t['type'] == 'SimMIMMaskGenerator' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(backbone=dict(depth=18), neck=dict(in_channels=512))
