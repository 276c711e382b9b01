# Oriented R-CNN (le90, FPN, 1x) with a CMID Swin-B (window 7) on DOTA v1.0
# (paper: 77.36 mAP). Built on mmrotate's Swin-T Oriented R-CNN config; the
# backbone is set to Swin-B and the optimiser to the reference's Swin-B
# detection settings (AdamW 1e-4, weight decay 0.05, no decay on norms /
# position tables, gradient clip 35) instead of Swin-T's backbone lr x 0.1.
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_swin-b_mmdet.pth --target mmrotate
_base_ = ['mmrotate::oriented_rcnn/oriented-rcnn-le90_swin-tiny_fpn_1x_dota.py']
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmrotate'

pretrained = 'checkpoints/cmid_swin-b_mmdet.pth'
model = dict(
    backbone=dict(
        embed_dims=128,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        drop_path_rate=0.3,
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
