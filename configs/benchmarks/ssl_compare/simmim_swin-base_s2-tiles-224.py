# mmpretrain's SimMIM recipe (Swin-B, linear decoder, L1 on masked pixels, 32 px mask blocks at
# ratio 0.6) on the real pretraining tiles at 224 (window 7, as CMID's Swin-B).
# Used by tools/benchmark/ssl_compare.py, which sets data root, batch, epochs, seed, optimizer
# and schedule identically for every method; resolved config in <work-dir>/<method>/config.py.
# Runs as it is too: python tools/train.py configs/benchmarks/ssl_compare/simmim_swin-base_s2-tiles-224.py
_base_ = ['mmpretrain::simmim/simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py', './_base_/rs_tiles.py']
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)

crop_size = 224
# Loading and normalisation as CMID's: RGB tiles, RS statistics.
data_preprocessor = dict(mean=_base_.rs_mean, std=_base_.rs_std, to_rgb=False)
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.67, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='SimMIMMaskGenerator', input_size=crop_size, mask_patch_size=32,
         model_patch_size=4, mask_ratio=0.6),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    drop_last=True,
    # re-declared: a dict inherited through 'mmpretrain::' carries `_scope_`, which mmengine
    # would pass on to the collate function as a keyword
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(_delete_=True, **_base_.rs_tiles, pipeline=train_pipeline))
model = dict(
    backbone=dict(img_size=crop_size, drop_path_rate=0.1,
                  stage_cfgs=dict(block_cfgs=dict(window_size=7))))
