# mmseg's stock FCN R18-d8 on the real 64 x 64 segmentation tiles of cmid_mm.rsdata
# (land cover, cloud mask; RGB or N bands): what the leaves under downstream_compare/ and
# segmentation_nband/ share. A leaf sets the data (data_root, metainfo, img_suffix and its
# pipelines in train/val_dataloader.dataset), the class count and the normalisation.
# Only the documented overrides of docs/downstream.md are applied to the stock model:
# pretrained=None, a plain 7x7-stem ResNet (what CMID pretrains), BN instead of SyncBN
# (one process).
_base_ = ['mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py']

custom_imports = dict(imports=['cmid_mm', 'cmid_mm.export'], allow_failed_imports=False)

crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size, bgr_to_rgb=False),
    pretrained=None,
    backbone=dict(type='ResNet', norm_cfg=norm_cfg, init_cfg=None),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))

seg_dataset = dict(type='BaseSegDataset', seg_map_suffix='.png', reduce_zero_label=False)
train_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**seg_dataset,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')))
val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**seg_dataset,
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
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
