# CMID with a ViT-B/16 student (CMIDViT: stock mmpretrain VisionTransformer + mask token).
# Carried over from the reference's Swin-B student (its ViT recipe is not published as a
# config), because both are LayerNorm transformers of the same width class:
# - no dropout / stochastic depth (the reference's MaskSwin runs with 0; the teacher always
#   runs without, see CMID._disable_stochastic_depth);
# - local head without BatchNorm (use_bn=False, as for Swin);
# - heads, losses, num_matches=20, EMA: the shared values of cmid_resnet50.py.
# ViT-specific: the map is at stride 16 (out_stride), so the MIM decoder's encoder_stride is
# 16 and the views need output_stride=16 and masks with model_patch_size=16 (see the leaf
# configs); a 224 px crop gives a 14 x 14 token grid (196 positions for the 20 matches).
_base_ = './cmid_resnet50.py'
model = dict(
    backbone=dict(_delete_=True, type='CMIDViT', arch='base', img_size=224, patch_size=16,
                  in_channels=3, drop_rate=0., drop_path_rate=0., out_indices=-1,
                  final_norm=True, replace=True),
    neck=dict(in_channels=768, encoder_stride=16),
    projector=dict(in_channels=768),
    local_head=dict(in_channels=768, use_bn=False),
)
