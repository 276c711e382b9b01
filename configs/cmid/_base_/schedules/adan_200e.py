# Reference schedule: Adan lr 1e-3, wd 0.02, 10 warm-up epochs (x0.01 -> 1),
# cosine to 1e-6; batch 64 x 4 GPUs; AMP on GPU (tools/train.py --amp).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adan', lr=1e-3, weight_decay=0.02, betas=(0.98, 0.92, 0.99)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0,
        custom_keys={'mask_token': dict(decay_mult=0.)}))
max_epochs = 200
warmup_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# base batch 4 GPUs x 64
auto_scale_lr = dict(base_batch_size=256)
