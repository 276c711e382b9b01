# Siamese UPerNet on a CMID ResNet-50: the four stages of a shared backbone,
# concatenated per level (FeatureFusionNeck 'concat', so UPerHead sees doubled
# channels), UPerHead + FCN auxiliary head (open-cd's siam_upernet_r50 shape).
# Checkpoint, normalisation and the siamese layout: cmid_siam.py.
_base_ = ['./cmid_siam.py']

model = dict(
    decode_head=dict(
        type='UPerHead',
        in_channels=[v * 2 for v in [256, 512, 1024, 2048]],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=_base_.norm_cfg,
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
        norm_cfg=_base_.norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
