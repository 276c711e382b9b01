# Linear probe of a frozen CMID Swin-B: patch embedding, all four stages and the output
# norm frozen, no drop path; a plain cross-entropy head without Mixup / CutMix.
_base_ = ['../models/swin-b-cmid.py', '../schedules/sgd_coslr_90e_linear.py', '../default_runtime.py']

model = dict(
    backbone=dict(frozen_stages=3, drop_path_rate=0.0),
    head=dict(loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0), cal_acc=True),
    train_cfg=dict(_delete_=True))
