# Linear-probe schedule: mmpretrain's MoCo v3 ResNet-50 linear protocol
# (mocov3/benchmarks/resnet50_8xb128-linear-coslr-90e_in1k.py: SGD, lr 0.4 for
# batch 1024, no weight decay, cosine over 90 epochs) with the lr scaled
# linearly to batch 64: 0.4 x 64 / 1024 = 0.025.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.025, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=0, end=90)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
