# The one CMID-backbone base of the change-detection configs: a siamese
# change detector (SiamEncoderDecoder: one shared backbone runs on each date, a
# FeatureFusionNeck concatenates the two feature pyramids level by level) on a
# CMID ResNet-50, with the CMID pretraining normalisation (configs/_base_/rs_norm.py)
# listed once per date. The model bases below it add the decode head
# (bit_cmid-r50.py, siam-upernet_cmid-r50.py) and swap in the CMID Swin-B
# (*_cmid-swin-b.py); each states only what differs.
#
# The one place to set: the exported CMID checkpoint
# (tools/model_converters/extract_backbone.py CKPT OUT --target mmseg). It holds
# `backbone.*` keys of a torchvision-style ResNet-50 (mmpretrain ResNet ==
# mmseg ResNet keys; the pretraining-only `backbone.mask_token` is ignored).
_base_ = ['../../../../_base_/rs_norm.py']

cmid_checkpoint = 'checkpoints/cmid_r50_mmseg.pth'

norm_cfg = dict(type='SyncBN', requires_grad=True)  # plain BN when not distributed
data_preprocessor = dict(
    type='DualInputSegDataPreProcessor',
    # CMID pretraining statistics (RGB, 0..255), listed once per date
    mean=_base_.rs_mean * 2,
    std=_base_.rs_std * 2,
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
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
