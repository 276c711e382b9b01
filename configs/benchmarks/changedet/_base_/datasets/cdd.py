# CDD (Lebedev et al. 2018, "season-varying" change detection), the 256x256 subset
# in open-cd's SVCD layout: data/CDD/{train,val,test}/{A,B,OUT}/*.jpg
# (10000 / 3000 / 3000 pairs; OUT masks 0/255, binarised at 128).
dataset_type = 'SVCD_Dataset'
data_root = 'data/CDD'
crop_size = (256, 256)

# Augmentation of the reference (random horizontal + vertical flips and a random
# 0/90/180/270 turn, i.e. a uniform draw over the 8 flips/right-angle rotations),
# one draw shared by both dates and the mask. No colour augmentation.
train_pipeline = [
    dict(type='MultiImgLoadImageFromFile'),
    dict(type='MultiImgLoadAnnotations'),
    dict(type='MultiImgRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MultiImgRandomFlip', prob=0.5, direction='vertical'),
    dict(type='MultiImgRandomRotFlip', rotate_prob=0.0, flip_prob=1.0),
    dict(type='MultiImgPackSegInputs'),
]
test_pipeline = [
    dict(type='MultiImgLoadImageFromFile'),
    dict(type='MultiImgLoadAnnotations'),
    dict(type='MultiImgPackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path_from='train/A', img_path_to='train/B',
                         seg_map_path='train/OUT'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path_from='val/A', img_path_to='val/B', seg_map_path='val/OUT'),
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path_from='test/A', img_path_to='test/B',
                         seg_map_path='test/OUT'),
        pipeline=test_pipeline))
# changed-class precision / recall / F1 / IoU (+ OA, mIoU, mF1), fractions in [0, 1]
val_evaluator = dict(type='CDMetric')
test_evaluator = val_evaluator
