# N-band segmentation with a stock model: mmseg's FCN R18-d8 on the real Landsat 8 cloud
# mask with all 10 bands on its 30 m grid (B1-B7, B9, B10, B11; 64 x 64, 54 train / 27 val
# tiles, cmid_mm.rsdata.nband.build_cloud_segmentation_nband: the tiles of cloud_seg with
# every band). B8 (panchromatic) is left out: it is on a 15 m grid, not the labels' 30 m one.
# The backbone is the stock mmseg ResNet-18 (plain 7x7 stem, what CMID pretrains) built
# with in_channels=10, initialised from a 10-band CMID backbone:
#   - CMID pretrained on 10 bands: tools/model_converters/extract_backbone.py CKPT \
#       checkpoints/cmid_r18-10band_mmseg.pth --target mmseg
#   - or an RGB CMID backbone adapted to 10 bands (B4, B3, B2 = 0-based bands 3, 2, 1):
#       tools/model_converters/rgb_to_nband.py checkpoints/cmid_r18_mmseg.pth \
#       checkpoints/cmid_r18-10band_mmseg.pth --num-bands 10 --rgb-bands 3 2 1
# A checkpoint with another band count is refused at the start of training by
# PretrainedLoadCheckHook (file, key, found and expected band count); a tile with another
# band count by LoadRSImage(num_bands=10) (file, expected, found).
# Data: data_root=<root>/cloud_seg_nband (python tools/data/build_rs_datasets.py --only
# cloud_seg_nband). Normalisation: per-band statistics of the train tiles computed by
# tools/analysis_tools/band_stats.py (_base_/datasets/l8_cloud_10band_stats.py).
_base_ = ['../_base_/fcn_r18-d8_tiles-64x64.py', '_base_/datasets/l8_cloud_10band_stats.py']

num_bands = _base_.num_bands
classes = ['clear', 'cloud']
num_classes = len(classes)
model = dict(
    data_preprocessor=dict(mean=_base_.band_mean, std=_base_.band_std),
    backbone=dict(in_channels=num_bands,
                  init_cfg=dict(_delete_=True, type='Pretrained', prefix='backbone.',
                                checkpoint='checkpoints/cmid_r18-10band_mmseg.pth')),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))

data_root = 'data/rs/cloud_seg_nband'
dataset = dict(data_root=data_root, metainfo=dict(classes=classes), img_suffix='.tif')
train_pipeline = [
    dict(type='LoadRSImage', num_bands=num_bands, to_float32=True),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadRSImage', num_bands=num_bands, to_float32=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(**dataset, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(**dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
