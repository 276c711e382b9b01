# mmpretrain's MoCo v3 ViT recipe (algorithm, MoCoV3ViT with the frozen random patch
# projection, 3-layer projector + 2-layer predictor, InfoNCE at temperature 0.2 on the CLS
# token, cosine EMA key encoder) on the real pretraining tiles with the tiny ViT of the CPU
# CMID-ViT config (192 wide, 4 layers, 3 heads, patch 16) at 128 px: the ViT rows of
# ssl_compare.py (which sets the views and the encoder's img_size to --crop-size, 96 on the CPU
# profile). Projector / predictor hidden 1024 (the recipe's 4096 for a 384-wide ViT-S, scaled
# down with the encoder), output 256 as the recipe.
# The encoder's state dict is key for key that of mmpretrain's VisionTransformer (MoCoV3ViT is
# a subclass; its pos_embed is a fixed sin-cos table), so its backbone.* tensors load into the
# CMIDViT evaluation model (only CMIDViT's mask_token is not in it).
# Runs as it is too: python tools/train.py configs/benchmarks/ssl_compare/mocov3_vit-tiny-p16_s2-tiles-128.py
_base_ = ['mmpretrain::mocov3/mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py',
          './_base_/rs_tiles.py']
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)

crop_size = 128
patch_size = 16
embed_dims = 192
hidden = 1024
# Loading and normalisation as CMID's: RGB tiles, RS statistics.
data_preprocessor = dict(mean=_base_.rs_mean, std=_base_.rs_std, to_rgb=False)
# The two asymmetric views of the recipe (crop scale 0.08-1 for the ViT), for RGB input:
# ColorJitter -> cmid_mm's RSColorJitter with the same ranges and probability (mmcv 2.1.0's
# adjust_hue overflows on numpy 2 for negative hue shifts), grayscale weights in RGB order.
view_pipeline1 = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.08, 1.),
         backend='pillow'),
    dict(type='RSColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.2989, 0.587, 0.114)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.),
    dict(type='Solarize', thr=128, prob=0.),
    dict(type='RandomFlip', prob=0.5),
]
# the second view differs only in the blur (prob 0.1) and solarize (prob 0.2) probabilities
view_pipeline2 = [
    dict(t, prob=dict(GaussianBlur=0.1, Solarize=0.2)[t['type']])
    if t['type'] in ('GaussianBlur', 'Solarize') else t for t in view_pipeline1
]
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='MultiView', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    drop_last=True,
    # re-declared: a dict inherited through 'mmpretrain::' carries `_scope_`, which mmengine
    # would pass on to the collate function as a keyword
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(_delete_=True, **_base_.rs_tiles, pipeline=train_pipeline))
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=embed_dims, num_layers=4, num_heads=3,
                            feedforward_channels=4 * embed_dims),
                  img_size=crop_size, patch_size=patch_size),
    neck=dict(in_channels=embed_dims, hid_channels=hidden),
    head=dict(predictor=dict(hid_channels=hidden)))
train_cfg = dict(max_epochs=20)
