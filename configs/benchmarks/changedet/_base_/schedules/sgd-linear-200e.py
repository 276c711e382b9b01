# Schedule of the CMID reference for ResNet-50 (official-CMID ChangeDetection/train.py):
# SGD lr 0.002, momentum 0.99, weight decay 5e-4, batch 8 on one GPU, 200 epochs,
# lr stepped once per epoch by lambda e: 1 - e / (epochs + 1).
# LinearLR from 1.0 to 1/(E+1) over E epochs reproduces that factor exactly.
max_epochs = 200
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.002, momentum=0.99, weight_decay=0.0005))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / (max_epochs + 1),
         by_epoch=True, begin=0, end=max_epochs),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# the reference batch (8 images on 1 GPU); used by --auto-scale-lr
auto_scale_lr = dict(enable=False, base_batch_size=8)
