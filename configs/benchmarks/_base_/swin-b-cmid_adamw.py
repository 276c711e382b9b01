# The CMID Swin-B (window 7) as an mmdet SwinTransformer, and the optimiser of the
# reference's Swin-B detection configs (AdamW 1e-4, weight decay 0.05, no decay on norms /
# position tables, gradient clip 35). Shared by detection/ and rotated_detection/: their
# Swin-B configs take an R50 config and swap in these pieces
#     pretrained = _base_.swin_b_pretrained
#     model = dict(backbone=dict(_delete_=True, **_base_.swin_b_backbone),
#                  neck=dict(in_channels=_base_.swin_b_channels))
#     optim_wrapper = dict(_delete_=True, **_base_.swin_b_optim_wrapper)
# (mmengine refuses two bases that both set `model` or `optim_wrapper`, hence variables).
# Weights (mmrotate builds mmdet's backbones, so both read the mmdet export):
#     python tools/model_converters/extract_backbone.py CMID.pth \
#         checkpoints/cmid_swin-b_mmdet.pth --target mmdet   (or --target mmrotate)
swin_b_pretrained = 'checkpoints/cmid_swin-b_mmdet.pth'
swin_b_backbone = dict(
    type='mmdet.SwinTransformer',  # with its scope: mmrotate's registry finds it too
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
    # CMID exports are already in mmdet's layout: no conversion of official Swin keys
    convert_weights=False,
    init_cfg=dict(type='Pretrained', checkpoint=swin_b_pretrained, prefix='backbone.'))
swin_b_channels = [128, 256, 512, 1024]
swin_b_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
