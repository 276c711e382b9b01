# Siamese UPerNet on a CMID Swin-B (embed 128, depths 2-2-18-2, heads
# 4-8-16-32, window 7): siam-upernet_cmid-r50.py with the backbone swapped and
# the head widths of Swin-B. Swin-B regularisation as the CMID reference's Swin-B
# change detector (drop_rate 0.3, drop_path_rate 0.3).
#
# The one place to set: the exported CMID Swin-B checkpoint (`backbone.*` keys;
# tools/model_converters/extract_backbone.py CKPT OUT --target mmseg; mmseg's
# SwinTransformer loads it with its own code: it strips `backbone.`, ignores
# `prefix` and skips unknown keys silently, see docs/changedet.md).
_base_ = ['./siam-upernet_cmid-r50.py']

cmid_checkpoint = 'checkpoints/cmid_swin-b_mmseg.pth'
model = dict(
    backbone=dict(
        _delete_=True,
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
    decode_head=dict(in_channels=[v * 2 for v in [128, 256, 512, 1024]]),
    auxiliary_head=dict(in_channels=512 * 2))
