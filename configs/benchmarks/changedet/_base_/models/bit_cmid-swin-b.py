# BIT change detector on a CMID Swin-B, as in the CMID reference: bit_cmid-r50.py
# with the backbone swapped: stage-3 features of Swin-B (512 ch, stride 16; the
# last stage is not built), the same BIT head on 512 channels. The reference
# built Swin-B with drop_rate 0.3 and drop_path_rate 0.3.
#
# The one place to set: the exported CMID Swin-B checkpoint (see
# siam-upernet_cmid-swin-b.py and docs/changedet.md for mmseg Swin's loader).
_base_ = ['./bit_cmid-r50.py']

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
    decode_head=dict(in_channels=512))
