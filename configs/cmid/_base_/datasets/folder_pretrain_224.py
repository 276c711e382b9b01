# Unlabelled folder of images -> CMID's two views at 224 (CMID_METHOD.md).
# Override the data root with --cfg-options train_dataloader.dataset.data_root=...
dataset_type = 'CustomDataset'
data_root = 'data/millionaid/'
crop_size = 224

view_a = []  # weak view: crop + flip only
view_b = [   # strong view
    dict(type='RSColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='RSGaussianBlur', kernel_range=(3, 7), sigma_range=(0.1, 2.0), prob=1.0),
    dict(type='RSGaussNoise', var_limit=(10., 50.), prob=0.6),
    dict(type='RSSolarize', threshold=0.5, prob=0.2),
    dict(type='RSToGray', prob=0.2),
]
train_pipeline = [
    dict(type='LoadRSImage'),
    # "resized to the training size when it is not" (bicubic)
    dict(type='Resize', scale=(crop_size, crop_size), interpolation='bicubic'),
    dict(type='CMIDMultiView', view_pipelines=[view_a, view_b], crop_size=crop_size,
         crop_ratio_range=(0.3, 1.0), flip_prob=0.5,
         # the reference resizes its crops bilinearly (albumentations' INTER_LINEAR)
         interpolation='bilinear',
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=crop_size,
                             mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)),
    dict(type='PackInputs', algorithm_keys=['grid', 'mask'], meta_keys=['img_path']),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='', with_label=False,
                 pipeline=train_pipeline))
