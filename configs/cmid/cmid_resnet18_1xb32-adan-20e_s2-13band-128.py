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
    global_head=dict(queue_len=64),
    local_loss=dict(warmup_teacher_temp_iters=10),
    teacher=dict(momentum=0.15),
)
# N-band views. The ops work on float reflectance (white = max_value = 1.0; values are
# clipped to [0, 1]). What each does with 13 bands (cmid_mm/datasets/transforms/photometric.py):
# - RSColorJitter: brightness scales all bands by one factor; contrast scales every band
#   around the mean of all bands and pixels; saturation and hue are RGB notions and are
#   skipped for N != 3 (set to 0 here, which says so);
# - RSToGray: a no-op for N != 3 (no luma of 13 bands): left out;
# - RSGaussianBlur: every band, as for RGB;
# - RSGaussNoise: one variance for all bands, given on the 0..255 scale of the reference's
#   stretched RGB. There 255 spans the 2-98 % range of the visible bands, ~0.08
#   reflectance on these tiles (B02-B04: 0.04-0.13), so the reference's (10, 50) becomes
#   (10, 50) x 0.08^2 = (0.064, 0.32): std 0.001-0.002 reflectance, about 0.1 of a visible
#   band's std, as in the RGB recipe (the unscaled (10, 50) gives std 0.012-0.028, about
#   one std of B01-B04). B10 (cirrus, std 0.0003) is still dominated by the noise;
# - RSSolarize: per band. Its one threshold (a fraction of white) on reflectance would
#   invert nothing (0.5: no pixel of these tiles reaches it in B01-B12 except 0.08 % of
#   B8A) or map dark bands to ~1 - x, far outside their range. With band_mean / band_std
#   each band is inverted within its own range mean +- 2 std; at threshold 0.5 that is a
#   reflection about the band mean of the values above it (the reference's "invert the
#   upper half of the stretched range", band by band), probability 0.2 as for RGB.
view_a = []
view_b = [
    dict(type='RSColorJitter', brightness=0.4, contrast=0.4, saturation=0., hue=0., prob=0.8),
    dict(type='RSGaussianBlur', kernel_range=(3, 7), sigma_range=(0.1, 2.0), prob=1.0),
    dict(type='RSGaussNoise', var_limit=(0.064, 0.32), prob=0.6),
    dict(type='RSSolarize', threshold=0.5, prob=0.2, band_mean=band_mean, band_std=band_std),
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
