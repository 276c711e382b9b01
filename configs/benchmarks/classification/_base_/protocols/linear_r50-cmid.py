# Linear probe of a frozen CMID ResNet-50 (mmpretrain's MoCo v3 protocol): all four stages
# frozen, BatchNorm in eval mode, only the linear head is trained. The leaf configs add the
# data set, its class count and the linear-probe augmentation (linear_probe_pipeline).
_base_ = ['../models/r50-cmid.py', '../schedules/sgd_coslr_90e_linear.py', '../default_runtime.py']

model = dict(backbone=dict(frozen_stages=4, norm_eval=True))
