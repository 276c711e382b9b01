# Reference schedule (official-CMID Pretrain/pt_config.yaml, main_pretrain.py and
# Exploring/trainer.py), 4 GPUs x 64 images:
# - lr: the reference configures 1e-3 *per GPU* and multiplies it by the world size
#   (config.lr * get_world_size()), so its 4 x 64 run trained at 4e-3. The lr below is that
#   effective rate for the total batch of 256; --auto-scale-lr scales it linearly from
#   base_batch_size=256 for another total batch (e.g. 1e-3 at 64).
# - Adan, weight decay 0.02, no decay on norms, biases and the mask token.
# - Its CosineAnnealingLrUpdaterHook(by_epoch=False, warmup='linear', warmup_ratio=0.01,
#   warmup_by_epoch=True, min_lr=1e-6) anneals over *all* iterations from iteration 0 and
#   multiplies the first 10 epochs by a linear warm-up factor 0.01 -> 1. Here the same:
#   LinearLR over the warm-up and CosineAnnealingLR over the whole run act together
#   (mmengine multiplies overlapping schedulers), ending at 1e-6. (mmengine's LinearLR
#   reaches 1 on the last warm-up iteration, the reference one iteration later: one of
#   ~39,000 warm-up iterations on MillionAID.)
# AMP on GPU: tools/train.py --amp.
optim_wrapper = dict(
    type='OptimWrapper',
    # mmpretrain's Adan; foreach=True (its default, explicit here) is its multi-tensor step
    optimizer=dict(type='Adan', lr=4e-3, weight_decay=0.02, betas=(0.98, 0.92, 0.99),
                   foreach=True),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0,
        custom_keys={'mask_token': dict(decay_mult=0.)}))
max_epochs = 200
warmup_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# the lr above is for 4 GPUs x 64 images
auto_scale_lr = dict(base_batch_size=256)
