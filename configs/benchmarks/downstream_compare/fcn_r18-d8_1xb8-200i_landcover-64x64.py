# CPU-sized downstream fine-tune: mmseg's stock FCN R18-d8 on the real 7-class Raleigh
# land-cover tiles (Landsat 7, 64 x 64, 28 train / 14 val tiles, cmid_mm.rsdata.build_landcover).
# Used by tools/benchmark/downstream_compare.py (CMID vs random vs MoCo v2 initialisation).
# Model, loaders, schedule and hooks: ../_base_/fcn_r18-d8_tiles-64x64.py (stock FCN with
# the documented overrides); here the data and the class count. The backbone starts random
# here; for a pretrained
# start set (what downstream_compare.py does)
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=F model.backbone.init_cfg.prefix=backbone.
# with F from tools/model_converters/extract_backbone.py CKPT F --target mmseg.
# Data: data_root=<root>/landcover (python tools/data/build_rs_datasets.py --only landcover).
_base_ = ['../_base_/fcn_r18-d8_tiles-64x64.py', '../../_base_/rs_norm.py']

num_classes = 7
classes = ['developed', 'agriculture', 'herbaceous', 'shrubland', 'forest', 'water', 'sediment']
model = dict(
    # LoadRSImage gives RGB; CMID's remote-sensing statistics (configs/_base_/rs_norm.py)
    data_preprocessor=dict(mean={{_base_.rs_mean}}, std={{_base_.rs_std}}),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))

data_root = 'data/rs/landcover'
dataset = dict(data_root=data_root, metainfo=dict(classes=classes), img_suffix='.png')
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(**dataset, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(**dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
