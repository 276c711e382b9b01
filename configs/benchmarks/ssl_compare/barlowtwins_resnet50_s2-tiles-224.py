# mmpretrain's Barlow Twins recipe on the real pretraining tiles, ResNet-50 at 224.
# Used by tools/benchmark/ssl_compare.py, which sets the data root, batch, epochs, seed,
# optimizer and schedule identically for every method (mmpretrain's LARS lr 1.6 @ batch 2048 is
# replaced by the shared schedule) and saves the resolved config as <work-dir>/.../config.py.
# Runs as it is too: python tools/train.py configs/benchmarks/ssl_compare/barlowtwins_resnet50_s2-tiles-224.py
_base_ = ['mmpretrain::barlowtwins/barlowtwins_resnet50_8xb256-coslr-300e_in1k.py',
          './_base_/rs_tiles.py']
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)

crop_size = 224
# Loading and normalisation as CMID's: RGB tiles, RS statistics.
data_preprocessor = dict(mean=_base_.rs_mean, std=_base_.rs_std, to_rgb=False)
# The two asymmetric views of mmpretrain's configs/_base_/datasets/imagenet_bs32_byol.py (the
# shipped Barlow Twins config's), for RGB input: ColorJitter -> RSColorJitter with the same
# ranges and probability (mmcv 2.1.0's adjust_hue overflows on numpy 2), grayscale weights in
# RGB order.
view_pipeline1 = [
    dict(type='RandomResizedCrop', scale=crop_size, interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RSColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.2989, 0.587, 0.114)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.),
    dict(type='Solarize', thr=128, prob=0.),
]
# the second view differs only in the blur (prob 0.1) and solarize (prob 0.2) probabilities
view_pipeline2 = [
    dict(t, prob=dict(GaussianBlur=0.1, Solarize=0.2)[t['type']])
    if t['type'] in ('GaussianBlur', 'Solarize') else t for t in view_pipeline1
]
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='MultiView', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,  # the shipped 256 per GPU does not fit one small machine
    drop_last=True,
    # re-declared: a dict inherited through 'mmpretrain::' carries `_scope_`, which mmengine
    # would pass on to the collate function as a keyword
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(_delete_=True, **_base_.rs_tiles, pipeline=train_pipeline))
# single-process runs: plain BN (SyncBN needs a process group); the projector sees (B, C)
# vectors. The head's own BatchNorm1d (affine=False) is plain BN already.
model = dict(backbone=dict(norm_cfg=dict(type='BN')), neck=dict(norm_cfg=dict(type='BN1d')))
