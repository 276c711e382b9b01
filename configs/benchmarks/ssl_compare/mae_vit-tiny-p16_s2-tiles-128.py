# mmpretrain's MAE recipe (algorithm, MAEViT encoder, decoder, normalised-pixel L2 loss) on the
# real pretraining tiles with the tiny ViT of the CPU CMID-ViT config (192 wide, 4 layers,
# 3 heads, patch 16) at 128 px: the ViT rows of ssl_compare.py (which sets the crop, the
# encoder's img_size and the decoder's num_patches to --crop-size, 96 on the CPU profile).
# Mask ratio 0.75 as the recipe. Decoder scaled with the encoder: the recipe's ViT-B decoder is
# 512 wide (2/3 of 768), 8 blocks, 16 heads; here 128 wide (2/3 of 192), 2 blocks, 4 heads.
# The encoder's state dict is key for key that of mmpretrain's VisionTransformer (MAEViT is a
# subclass; its pos_embed is a fixed sin-cos table), so its backbone.* tensors load into the
# CMIDViT evaluation model (only CMIDViT's mask_token is not in it).
# Runs as it is too: python tools/train.py configs/benchmarks/ssl_compare/mae_vit-tiny-p16_s2-tiles-128.py
_base_ = ['mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py',
          './_base_/rs_tiles.py']
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)

crop_size = 128
patch_size = 16
embed_dims = 192
decoder_dims = 128
# Loading and normalisation as CMID's: RGB tiles, RS statistics.
data_preprocessor = dict(mean=_base_.rs_mean, std=_base_.rs_std, to_rgb=False)
# mmpretrain's configs/_base_/datasets/imagenet_bs512_mae.py views at our size
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
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
                  img_size=crop_size, patch_size=patch_size, mask_ratio=0.75),
    neck=dict(num_patches=(crop_size // patch_size) ** 2, patch_size=patch_size,
              embed_dim=embed_dims, decoder_embed_dim=decoder_dims, decoder_depth=2,
              decoder_num_heads=4),
    head=dict(patch_size=patch_size))
train_cfg = dict(max_epochs=20)
