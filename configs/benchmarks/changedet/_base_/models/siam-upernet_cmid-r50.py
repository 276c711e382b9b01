# Siamese UPerNet on a CMID ResNet-50: the four stages of a shared backbone,
# concatenated per level (FeatureFusionNeck 'concat', so UPerHead sees doubled
# channels), UPerHead + FCN auxiliary head (open-cd's siam_upernet_r50 shape).
#
# The one place to set: the exported CMID checkpoint (`backbone.*` keys;
# tools/model_converters/extract_backbone.py CKPT OUT --target mmseg).
cmid_checkpoint = 'checkpoints/cmid_r50_mmseg.pth'

norm_cfg = dict(type='SyncBN', requires_grad=True)  # plain BN when not distributed
data_preprocessor = dict(
    type='DualInputSegDataPreProcessor',
    mean=[86.182, 91.928, 85.374] * 2,
    std=[34.655, 34.476, 35.879] * 2,
    bgr_to_rgb=True,
    size_divisor=32,
    pad_val=0,
    seg_pad_val=255,
    test_cfg=dict(size_divisor=32))
model = dict(
    type='SiamEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',  # plain (torchvision) stem, not ResNetV1c
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=cmid_checkpoint, prefix='backbone.')),
    neck=dict(type='FeatureFusionNeck', policy='concat'),
    decode_head=dict(
        type='UPerHead',
        in_channels=[v * 2 for v in [256, 512, 1024, 2048]],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024 * 2,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
