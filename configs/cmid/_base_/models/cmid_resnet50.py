# CMID with a ResNet-50 student (numbers from ../shared/CMID_METHOD.md).
_base_ = '../../../_base_/rs_norm.py'
model = dict(
    type='CMID',
    data_preprocessor=dict(
        type='CMIDDataPreprocessor',
        # MillionAID/Potsdam statistics of the reference, on the 0..255 scale
        mean=_base_.rs_mean,
        std=_base_.rs_std,
        to_rgb=False),  # LoadRSImage already returns RGB
    backbone=dict(type='CMIDResNet', depth=50, in_channels=3, out_indices=(3, ),
                  norm_cfg=dict(type='BN'),
                  # zero last BN of each block, as timm's resnet50 (the reference student)
                  zero_init_residual=True),
    neck=dict(type='CMIDLinearDecoder', in_channels=2048, encoder_stride=32, out_channels=3),
    head=dict(
        type='CMIDMIMHead',
        loss=dict(type='FocalL1Loss', alpha=0.2, gamma=1.0, activate='sigmoid', residual=False),
        fft_loss=dict(type='FocalFrequencyLoss', loss_weight=1.0, alpha=1.0, ave_spectrum=True,
                      log_matrix=True, batch_matrix=True),
        unmask_weight=0.001),
    projector=dict(type='MoCoV2Neck', in_channels=2048, hid_channels=2048, out_channels=256,
                   with_avg_pool=True),
    # symmetric MoCo v2 contrast with a queue of teacher keys (starts empty)
    global_head=dict(type='CMIDMoCoHead', feat_dim=256, queue_len=65536, temperature=0.2,
                     loss=dict(type='CrossEntropyLoss')),
    local_head=dict(type='CMIDLocalHead', in_channels=2048, hid_channels=2048,
                    bottleneck_channels=256, out_channels=2048, num_layers=3, use_bn=True),
    local_loss=dict(type='CMIDLocalLoss', out_dim=2048, student_temp=0.1, teacher_temp=0.07,
                    warmup_teacher_temp=0.04, warmup_teacher_temp_epochs=50,
                    center_momentum=0.9),
    num_matches=20,
    # teacher momentum 0.996 -> 1 (mmengine's momentum = 1 - that); ForeachCosineEMA is
    # mmpretrain's CosineEMA with a multi-tensor update (bit-identical; type='CosineEMA' or
    # foreach=False for the per-parameter loop)
    teacher=dict(type='ForeachCosineEMA', momentum=0.004, end_momentum=0., foreach=True),
)
