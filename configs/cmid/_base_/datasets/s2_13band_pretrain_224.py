# Unlabelled folder of 13-band Sentinel-2 GeoTIFFs (uint16 L1C, B01..B12 with B8A at
# 10 m) -> CMID's two views at 224. N-band views: see
# ../../cmid_resnet18_1xb32-adan-20e_s2-13band-128.py for why: saturation / hue / to-gray
# are RGB notions and are off; brightness, contrast, noise and solarize act in band space
# (each band within its own mean +- 2 std, with the reference's parameters); white = 1.0.
_base_ = ['folder_pretrain_224.py', 's2_13band_stats.py']
data_root = 'data/s2_13band/'
band_space = dict(band_mean=_base_.band_mean, band_std=_base_.band_std)
view_a = []
view_b = [
    dict(type='RSColorJitter', brightness=0.4, contrast=0.4, saturation=0., hue=0., prob=0.8,
         **band_space),
    dict(type='RSGaussianBlur', kernel_range=(3, 7), sigma_range=(0.1, 2.0), prob=1.0),
    dict(type='RSGaussNoise', var_limit=(10., 50.), prob=0.6, **band_space),
    dict(type='RSSolarize', threshold=0.5, prob=0.2, **band_space),
]
train_pipeline = [
    dict(type='LoadRSImage', num_bands=13, uint16_scale=10000, to_float32=True),
    dict(type='Resize', scale=(224, 224), interpolation='bicubic'),
    dict(type='CMIDMultiView', view_pipelines=[view_a, view_b], crop_size=224,
         crop_ratio_range=(0.3, 1.0), flip_prob=0.5,
         # the reference resizes its crops bilinearly (albumentations' INTER_LINEAR)
         interpolation='bilinear',
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=224,
                             mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)),
    dict(type='PackInputs', algorithm_keys=['grid', 'mask'], meta_keys=['img_path']),
]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline,
                                     extensions=('.tif', '.tiff')))
