# mmpretrain's SimMIM algorithm, decoder and loss with a ResNet-50 student.
# mmpretrain's SimMIM only needs a backbone with forward(x, mask): cmid_mm's CMIDResNet (stock
# ResNet + a stage-0 mask token at stride 4) with replace=True applies SimMIM's
# x * (1 - m) + token * m, so the masked pixels do not reach layer1.
_base_ = './simmim_swin-base_s2-tiles-224.py'

model = dict(
    backbone=dict(_delete_=True, type='CMIDResNet', depth=50, replace=True, out_indices=(3, ),
                  norm_cfg=dict(type='BN'), zero_init_residual=False),
    neck=dict(in_channels=2048))
