# Full fine-tuning of a CMID ResNet-50, the reference recipe (official-CMID
# Pretrain/ft_config.yaml): Adan schedule (../schedules), timm's Mixup 0.8 / CutMix 1.0
# with label smoothing 0.1. The leaf configs add the data set and its class count.
_base_ = ['../models/r50-cmid.py', '../schedules/adan_200e_finetune.py', '../default_runtime.py']

model = dict(
    head=dict(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              topk=(1, 5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
