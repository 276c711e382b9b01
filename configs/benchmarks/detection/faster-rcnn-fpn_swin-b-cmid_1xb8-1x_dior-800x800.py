# Faster R-CNN + FPN with a CMID Swin-B (window 7) on DIOR (20 classes).
# Optimiser as the reference's Swin-B detection config: AdamW 1e-4, weight
# decay 0.05, no decay on norms / position tables, gradient clip 35.
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_swin-b_mmdet.pth --target mmdet
_base_ = ['./faster-rcnn-fpn_r50-cmid_1xb8-1x_dior-800x800.py']

pretrained = 'checkpoints/cmid_swin-b_mmdet.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        embed_dims=128,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[128, 256, 512, 1024]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
