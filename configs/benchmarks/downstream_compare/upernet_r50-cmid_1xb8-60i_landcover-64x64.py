# GPU smoke check of the downstream path at the paper's backbone (docs/benchmarks.md, "GPU
# check"): the shipped UperNet R50 config (stock mmseg model, CMID backbone through
# init_cfg=Pretrained) with its data swapped for the real 7-class Raleigh land-cover tiles
# (64 px; python tools/data/build_rs_datasets.py --only landcover) and 60 iterations.
# It shows that an exported ResNet-50 loads (PretrainedLoadCheckHook) and fine-tunes with
# --amp on a GPU; 60 iterations on 28 tiles measure nothing about quality.
#   python tools/train.py THIS --amp --cfg-options \
#       model.backbone.init_cfg.checkpoint=cmid_r50_mmseg.pth \
#       train_dataloader.dataset.data_root=ROOT/landcover val_dataloader.dataset.data_root=ROOT/landcover
_base_ = ['../segmentation/upernet_r50-cmid_1xb8-50e_potsdam-512x512.py']
custom_imports = dict(imports=['cmid_mm', 'cmid_mm.export'], allow_failed_imports=False)
data_root = 'data/rs/landcover'
crop_size = (64, 64)
classes = ['developed', 'agriculture', 'herbaceous', 'shrubland', 'forest', 'water', 'sediment']
model = dict(data_preprocessor=dict(size=crop_size),
             decode_head=dict(num_classes=7), auxiliary_head=dict(num_classes=7))
dataset = dict(type='BaseSegDataset', data_root=data_root,
               metainfo=dict(classes=classes), img_suffix='.png', seg_map_suffix='.png',
               reduce_zero_label=False)
train_pipeline = [dict(type='LoadRSImage'), dict(type='LoadAnnotations'),
                  dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                  dict(type='PackSegInputs')]
test_pipeline = [dict(type='LoadRSImage'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
train_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**dataset, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
max_iters = 60
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=20, log_metric_by_epoch=False),
                     checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
