# Siamese UPerNet on a CMID Swin-B (embed 128, depths 2-2-18-2, heads
# 4-8-16-32, window 7): the four stages of a shared backbone, concatenated per
# level, UPerHead + FCN auxiliary head. Swin-B regularisation as the CMID
# reference's Swin-B change detector (drop_rate 0.3, drop_path_rate 0.3).
#
# The one place to set: the exported CMID Swin-B checkpoint (`backbone.*` keys;
# tools/model_converters/extract_backbone.py CKPT OUT --target mmseg; see
# bit_cmid-swin-b.py and docs/changedet.md for mmseg Swin's loader).
cmid_checkpoint = 'checkpoints/cmid_swin-b_mmseg.pth'

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
        type='SwinTransformer',
        pretrain_img_size=224,
        embed_dims=128,
        patch_size=4,
        window_size=7,
        mlp_ratio=4,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        qk_scale=None,
        patch_norm=True,
        drop_rate=0.3,
        attn_drop_rate=0.,
        drop_path_rate=0.3,
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=cmid_checkpoint, prefix='backbone.')),
    neck=dict(type='FeatureFusionNeck', policy='concat'),
    decode_head=dict(
        type='UPerHead',
        in_channels=[v * 2 for v in [128, 256, 512, 1024]],
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
        in_channels=512 * 2,
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
