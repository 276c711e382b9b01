# LEVIR-CD (Chen & Shi 2020) in its released layout:
# data/LEVIR-CD/{train,val,test}/{A,B,label}/*.png, 445 / 64 / 128 pairs of
# 1024x1024 px, masks 0/255 (binarised at 128).
#
# The reference trained and evaluated on the 256x256 non-overlapping patches
# of these images (16 per image). Here training draws one random 256x256 crop
# per image and visit, and the training set is repeated 16 times per epoch, so
# that an epoch has as many 256x256 samples (and optimizer steps) as the
# reference's patch epoch; evaluation runs the model on the same
# non-overlapping 256x256 windows (slide inference, set in the model's
# test_cfg by the top-level LEVIR configs) and scores the full 1024x1024 masks.
dataset_type = 'LEVIR_CD_Dataset'
data_root = 'data/LEVIR-CD'
crop_size = (256, 256)

train_pipeline = [
    dict(type='MultiImgLoadImageFromFile'),
    dict(type='MultiImgLoadAnnotations'),
    dict(type='MultiImgRandomCrop', crop_size=crop_size),
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
        type='RepeatDataset',
        times=16,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            data_prefix=dict(img_path_from='train/A', img_path_to='train/B',
                             seg_map_path='train/label'),
            pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path_from='val/A', img_path_to='val/B',
                         seg_map_path='val/label'),
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
                         seg_map_path='test/label'),
        pipeline=test_pipeline))
val_evaluator = dict(type='CDMetric')
test_evaluator = val_evaluator
