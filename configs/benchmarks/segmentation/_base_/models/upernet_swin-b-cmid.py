# mmseg's UperNet with a Swin-B (window 7) initialised from the CMID student.
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_swin-b_mmseg.pth --target mmseg
_base_ = 'mmseg::_base_/models/upernet_swin.py'

pretrained = 'checkpoints/cmid_swin-b_mmseg.pth'
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    backbone=dict(
        embed_dims=128,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        window_size=7,
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
