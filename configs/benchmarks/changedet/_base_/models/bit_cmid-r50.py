# BIT change detector (Chen et al. 2021) on a CMID ResNet-50, as in the CMID
# reference: stage-3 features (1024 ch, stride 16) of a shared backbone,
# upsampled x2, 4 semantic tokens, transformer encoder depth 1 / decoder depth 8,
# |f1 - f2| fusion, x4 upsampling, 2-class cross-entropy.
#
# The one place to set: the exported CMID checkpoint
# (tools/model_converters/extract_backbone.py CKPT OUT --target mmseg). It holds
# `backbone.*` keys of a torchvision-style ResNet-50 (mmpretrain ResNet ==
# mmseg ResNet keys; the pretraining-only `backbone.mask_token` is ignored).
cmid_checkpoint = 'checkpoints/cmid_r50_mmseg.pth'

norm_cfg = dict(type='SyncBN', requires_grad=True)  # plain BN when not distributed
data_preprocessor = dict(
    type='DualInputSegDataPreProcessor',
    # CMID pretraining statistics (MillionAID, RGB, 0..255), listed once per date
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
        num_stages=3,  # the head reads stage 3; stage 4 is not built (never used)
        out_indices=(2, ),
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=cmid_checkpoint, prefix='backbone.')),
    neck=dict(type='FeatureFusionNeck', policy='concat', out_indices=(0, )),
    decode_head=dict(
        type='BITHead',
        in_channels=1024,
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
