# BIT change detector on a CMID Swin-B (embed 128, depths 2-2-18-2, heads
# 4-8-16-32, window 7), as in the CMID reference: stage-3 features (512 ch,
# stride 16), x2 upsampling, 4 tokens, encoder depth 1 / decoder depth 8,
# |f1 - f2|, x4 upsampling. The reference built Swin-B with drop_rate 0.3 and
# drop_path_rate 0.3.
#
# The one place to set: the exported CMID Swin-B checkpoint
# (tools/model_converters/extract_backbone.py CKPT OUT --target mmseg; `backbone.*`
# keys of mmpretrain's SwinTransformer == mmseg SwinTransformer keys). mmseg's
# SwinTransformer loads it with its own code: it strips `backbone.`, ignores
# `prefix` and skips unknown keys silently (see docs/changedet.md).
cmid_checkpoint = 'checkpoints/cmid_swin-b_mmseg.pth'

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
        # the head reads stage 3: stage 4 is not built (never used)
        depths=(2, 2, 18),
        num_heads=(4, 8, 16),
        strides=(4, 2, 2),
        out_indices=(2, ),
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
    neck=dict(type='FeatureFusionNeck', policy='concat', out_indices=(0, )),
    decode_head=dict(
        type='BITHead',
        in_channels=512,
        channels=32,
        embed_dims=64,
        enc_depth=1,
        enc_with_pos=True,
        dec_depth=8,
        num_heads=8,
        drop_rate=0.,
        use_tokenizer=True,
        token_len=4,
        pre_upsample=2,
        upsample_size=4,
        num_classes=2,
        norm_cfg=dict(type='LN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
