# Schedule of the CMID reference for Swin-B (official-CMID ChangeDetection/train.py):
# AdamW lr 6e-5, betas (0.9, 0.999), weight decay 0.01 (on all parameters),
# batch 8 on one GPU, 200 epochs, lr stepped once per epoch by
# lambda e: 1 - e / (epochs + 1) (LinearLR from 1.0 to 1/(E+1) over E epochs).
max_epochs = 200
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / (max_epochs + 1),
         by_epoch=True, begin=0, end=max_epochs),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=8)
