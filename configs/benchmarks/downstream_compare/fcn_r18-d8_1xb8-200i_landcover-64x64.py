# CPU-sized downstream fine-tune: mmseg's stock FCN R18-d8 on the real 7-class Raleigh
# land-cover tiles (Landsat 7, 64 x 64, 28 train / 14 val tiles, cmid_mm.rsdata.build_landcover).
# Used by tools/benchmark/downstream_compare.py (CMID vs random vs MoCo v2 initialisation).
# Only the documented overrides of docs/downstream.md are applied to the stock model:
# pretrained=None, a plain 7x7-stem ResNet (what CMID pretrains), BN instead of SyncBN
# (one process), and the class count. The backbone starts random here; for a pretrained
# start set (what downstream_compare.py does)
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=F model.backbone.init_cfg.prefix=backbone.
# with F from tools/model_converters/extract_backbone.py CKPT F --target mmseg.
# Data: data_root=<root>/landcover (python tools/data/build_rs_datasets.py --only landcover).
_base_ = ['mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py', '../../_base_/rs_norm.py']

custom_imports = dict(imports=['cmid_mm', 'cmid_mm.export'], allow_failed_imports=False)

crop_size = (64, 64)
num_classes = 7
classes = ['developed', 'agriculture', 'herbaceous', 'shrubland', 'forest', 'water', 'sediment']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    # LoadRSImage gives RGB; CMID's remote-sensing statistics (configs/_base_/rs_norm.py)
    data_preprocessor=dict(size=crop_size, mean={{_base_.rs_mean}}, std={{_base_.rs_std}},
                           bgr_to_rgb=False),
    pretrained=None,
    backbone=dict(type='ResNet', norm_cfg=norm_cfg, init_cfg=None),
    decode_head=dict(num_classes=num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(num_classes=num_classes, norm_cfg=norm_cfg))

data_root = 'data/rs/landcover'
dataset = dict(
    type='BaseSegDataset', data_root=data_root, metainfo=dict(classes=classes),
    img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False)
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
# fails the run when a Pretrained init_cfg loads < 90 % of the backbone's tensors
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
randomness = dict(seed=0)
