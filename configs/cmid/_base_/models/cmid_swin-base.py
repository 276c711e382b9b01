# CMID with a Swin-B student; the local head has no BatchNorm for Swin.
# Student and teacher without dropout / stochastic depth, as the reference's MaskSwin.
_base_ = './cmid_resnet50.py'
model = dict(
    backbone=dict(_delete_=True, type='CMIDSwinTransformer', arch='B', img_size=224,
                  in_channels=3, drop_rate=0., drop_path_rate=0., out_indices=(3, ),
                  # True: window attention through F.scaled_dot_product_attention (same keys)
                  sdpa_window_attention=False),
    neck=dict(in_channels=1024),
    projector=dict(in_channels=1024),
    local_head=dict(in_channels=1024, use_bn=False),
)
