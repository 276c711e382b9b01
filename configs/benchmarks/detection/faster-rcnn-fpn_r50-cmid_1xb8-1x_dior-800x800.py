# Faster R-CNN + FPN with a CMID ResNet-50 on DIOR (20 classes, horizontal boxes).
# mmdet's stock 1x recipe (SGD, 12 epochs, steps at 8 and 11), lr scaled to batch 8.
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_r50_mmdet.pth --target mmdet
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    './_base_/datasets/dior.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmdet'

pretrained = 'checkpoints/cmid_r50_mmdet.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    roi_head=dict(bbox_head=dict(num_classes=20)))

optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='pascal_voc/mAP'))
