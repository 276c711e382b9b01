# Multispectral CMID for CPU: the ResNet-18 / 128 px recipe of
# cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py on all 13 Sentinel-2 bands (B01..B12
# with B8A, resampled to 10 m; cmid_mm.rsdata.sources.S2_BANDS order), from the 64
# 128 px uint16 GeoTIFF tiles that tools/data/build_rs_datasets.py writes to
# data/rs/pretrain/msi.
_base_ = ['cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py', '_base_/datasets/s2_13band_stats.py']
crop_size = 128
num_bands = _base_.num_bands

# Per-band statistics of these tiles (reflectance scale), computed by
# tools/analysis_tools/band_stats.py: see _base_/datasets/s2_13band_stats.py for the command.
band_mean = _base_.band_mean
band_std = _base_.band_std

# Short-schedule rules (see the RGB config) for N = 64 tiles, B = 32, 20 epochs:
# 2 iterations per epoch, T = 40 -> cmid_mm.models.utils.cmid_short_schedule(64, 32, 20):
# queue 64, EMA start weight 0.15, teacher-temperature warm-up 10 iterations.
model = dict(
    data_preprocessor=dict(mean=band_mean, std=band_std, to_rgb=False),
    backbone=dict(in_channels=num_bands),
    # the MIM target is the normalised 13-band image: the decoder predicts 13 bands
    neck=dict(out_channels=num_bands),
    head=dict(band_names=_base_.band_names),  # names of the per-band rec diagnostics
    global_head=dict(queue_len=64),
    local_loss=dict(warmup_teacher_temp_iters=10),
    teacher=dict(momentum=0.15),
)
# N-band views (docs/architecture.md, "Multispectral views"). The ops work on float
# reflectance (white = max_value = 1.0; only [0, 1] is clipped) and, given band_mean /
# band_std, in *band space*: each band b has its own range mean_b +- 2 std_b, which plays
# the part that [0, 255] plays for a stretched RGB tile, so the reference's parameters are
# used as they are and every band is perturbed as much, relative to its own spread, as a
# stretched RGB band (tools/analysis_tools/view_band_stats.py measures it):
# - RSColorJitter: brightness scales each band about the low end of its range, contrast
#   about the mean of the range-scaled image; saturation and hue are RGB notions (0 here);
# - RSGaussianBlur: every band, as for RGB (linear: the same in any space);
# - RSGaussNoise: the reference's variance (10, 50) on each band's 0..255 range-scale;
# - RSSolarize: each band mirrored within its own range (threshold 0.5: about its mean);
# - RSToGray: a no-op for N != 3 (no luma of 13 bands): left out.
# Before (the issue-14 recipe), brightness and contrast scaled reflectance itself and the
# noise had one variance for all bands: B10 (cirrus, std 0.0003) moved by ~38 of its stds
# (rms), its target was mostly augmentation and loss_rec rose (docs/benchmarks.md).
band_space = dict(band_mean=band_mean, band_std=band_std)
view_a = []
view_b = [
    dict(type='RSColorJitter', brightness=0.4, contrast=0.4, saturation=0., hue=0., prob=0.8,
         **band_space),
    dict(type='RSGaussianBlur', kernel_range=(3, 7), sigma_range=(0.1, 2.0), prob=1.0),
    dict(type='RSGaussNoise', var_limit=(10., 50.), prob=0.6, **band_space),
    dict(type='RSSolarize', threshold=0.5, prob=0.2, **band_space),
]
train_pipeline = [
    dict(type='LoadRSImage', num_bands=num_bands, uint16_scale=10000, to_float32=True),
    dict(type='Resize', scale=(crop_size, crop_size), interpolation='bicubic'),
    dict(type='CMIDMultiView', view_pipelines=[view_a, view_b], crop_size=crop_size,
         crop_ratio_range=(0.3, 1.0), flip_prob=0.5,
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=crop_size,
                             mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)),
    dict(type='PackInputs', algorithm_keys=['grid', 'mask'], meta_keys=['img_path']),
]
train_dataloader = dict(
    dataset=dict(data_root='data/rs/pretrain/msi', pipeline=train_pipeline,
                 extensions=('.tif', )))
