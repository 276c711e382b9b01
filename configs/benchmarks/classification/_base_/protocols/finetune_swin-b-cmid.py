# Full fine-tuning of a CMID Swin-B, the reference recipe (official-CMID
# Pretrain/ft_config.yaml): Adan schedule (../schedules) without weight decay on the
# position tables; the head recipe is already mmpretrain's Swin-B model.
_base_ = ['../models/swin-b-cmid.py', '../schedules/adan_200e_finetune.py', '../default_runtime.py']

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.absolute_pos_embed': dict(decay_mult=0.0),
            '.relative_position_bias_table': dict(decay_mult=0.0)
        }))
