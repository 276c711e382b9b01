# folder_pretrain_224.py with the strong view's photometric ops on the training device:
# the data workers only load (uint8), resize, crop, flip and draw the masks; the leaf config
# gives the ops to the data preprocessor, which runs them on the batch with per-sample
# parameters from the same distributions (cmid_mm.models.utils.BatchPhotometric):
#   model = dict(data_preprocessor=dict(view_batch_augments=[_base_.view_a, _base_.view_b]))
# For the reference's per-image path inherit folder_pretrain_224.py and drop that key.
_base_ = ['folder_pretrain_224.py']
crop_size = 224
train_pipeline = [
    dict(type='LoadRSImage'),
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
