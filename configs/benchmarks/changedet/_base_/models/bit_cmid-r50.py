# BIT change detector (Chen et al. 2021) on a CMID ResNet-50, as in the CMID
# reference: stage-3 features (1024 ch, stride 16) of a shared backbone,
# upsampled x2, 4 semantic tokens, transformer encoder depth 1 / decoder depth 8,
# |f1 - f2| fusion, x4 upsampling, 2-class cross-entropy.
# Checkpoint, normalisation and the siamese layout: cmid_siam.py.
_base_ = ['./cmid_siam.py']

model = dict(
    backbone=dict(
        num_stages=3,  # the head reads stage 3; stage 4 is not built (never used)
        out_indices=(2, ),
        strides=(1, 2, 2),
        dilations=(1, 1, 1)),
    neck=dict(out_indices=(0, )),
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
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
