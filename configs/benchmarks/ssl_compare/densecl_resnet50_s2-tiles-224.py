# mmpretrain's DenseCL recipe on the real pretraining tiles, ResNet-50 at 224.
# Used by tools/benchmark/ssl_compare.py, which sets the data root, batch, epochs, seed,
# optimizer and schedule identically for every method (mmpretrain's SGD lr 0.03 @ batch 256 is
# replaced by the shared schedule) and saves the resolved config as <work-dir>/.../config.py.
# Runs as it is too: python tools/train.py configs/benchmarks/ssl_compare/densecl_resnet50_s2-tiles-224.py
_base_ = ['mmpretrain::densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py', './_base_/rs_tiles.py']
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)

crop_size = 224
# Loading and normalisation as CMID's: RGB tiles, RS statistics.
data_preprocessor = dict(mean=_base_.rs_mean, std=_base_.rs_std, to_rgb=False)
# DenseCL's shipped config uses MoCo v2's views (configs/_base_/datasets/imagenet_bs32_mocov2.py),
# for RGB input: ColorJitter -> RSColorJitter with the same ranges and probability (mmcv 2.1.0's
# adjust_hue overflows on numpy 2), grayscale weights in RGB order.
view_pipeline = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.), backend='pillow'),
    dict(type='RSColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.2989, 0.587, 0.114)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    drop_last=True,
    # re-declared: a dict inherited through 'mmpretrain::' carries `_scope_`, which mmengine
    # would pass on to the collate function as a keyword
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(_delete_=True, **_base_.rs_tiles, pipeline=train_pipeline))
# the shipped model is kept as it is: plain BN already, DenseCLNeck(num_grid=None) pools the
# dense branch over the backbone's own grid (3 x 3 at 96 px, 7 x 7 at 224 px)
