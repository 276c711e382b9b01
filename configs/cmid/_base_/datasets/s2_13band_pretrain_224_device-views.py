# s2_13band_pretrain_224.py with the strong view's photometric ops on the training device.
# The workers keep the 13 bands as uint16 L1C DN (2 bytes a value instead of float32's 4)
# and only load, resize, crop, flip and draw the masks; the leaf config sets
#   model = dict(data_preprocessor=dict(uint16_scale=10000,  # DN -> reflectance, on device
#                                       view_batch_augments=[_base_.view_a, _base_.view_b]))
# and the data preprocessor runs the ops on reflectance, as the workers would
# (cmid_mm.models.utils.BatchPhotometric). For the per-image path inherit
# s2_13band_pretrain_224.py and drop those two keys.
_base_ = ['s2_13band_pretrain_224.py']
crop_size = 224
train_pipeline = [
    dict(type='LoadRSImage', num_bands=13),
    dict(type='Resize', scale=(crop_size, crop_size), interpolation='bicubic'),
    dict(type='CMIDMultiView', view_pipelines=[[], []], crop_size=crop_size,
         crop_ratio_range=(0.3, 1.0), flip_prob=0.5,
         # the reference resizes its crops bilinearly (albumentations' INTER_LINEAR)
         interpolation='bilinear',
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=crop_size,
                             mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)),
    dict(type='PackInputs', algorithm_keys=['grid', 'mask'], meta_keys=['img_path']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
