# Small CMID for CPU: ResNet-18 student on 128 px Sentinel-2 tiles built by
# tools/data/build_rs_datasets.py (used by `make demo` and the tests).
_base_ = [
    '_base_/models/cmid_resnet50.py',
    '_base_/datasets/folder_pretrain_224.py',
    '_base_/schedules/adan_200e.py',
    '_base_/default_runtime.py',
]
crop_size = 128  # 4 x 4 location grid, 4 x 4 mask blocks of 32 px
# Short-schedule rules (docs/architecture.md, "Short schedules"), worked out for
# N = 286 tiles, batch B = 32 (drop_last), 20 epochs: 8 iterations per epoch,
# T = 160 iterations, 2 x 8 x 32 = 512 teacher keys enqueued per epoch.
# - queue: the largest power of two <= keys per epoch / 4 (a key stays queued at
#   most a quarter epoch, so < 3 % of positives meet a stale key of their own
#   image as a negative) and >= 2 x keys per step: 128;
# - EMA: start weight of the student per update mu0 = max(0.004, 6 / T) = 0.0375
#   (teacher momentum 0.9625 -> 1, cosine), so after the run the teacher keeps
#   ~exp(-mu0 T / 2) = 5 % of its random initial weights (the reference's 0.004
#   leaves ~73 % after 160 steps);
# - teacher-temperature warm-up: a quarter of the run (the reference's 50 of 200
#   epochs), counted in iterations: 40.
# Change N, B or the epochs and recompute these three numbers with
# cmid_mm.models.utils.cmid_short_schedule(N, B, epochs) (a test checks this config).
model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512),
    projector=dict(in_channels=512, hid_channels=512, out_channels=128),
    global_head=dict(feat_dim=128, queue_len=128),
    local_head=dict(in_channels=512, hid_channels=512, bottleneck_channels=128,
                    out_channels=1024),
    local_loss=dict(out_dim=1024, warmup_teacher_temp_epochs=None, warmup_teacher_temp_iters=40),
    num_matches=8,
    teacher=dict(momentum=0.0375),
)
view_a = []
view_b = [
    dict(type='RSColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8),
    dict(type='RSGaussianBlur', kernel_range=(3, 7), sigma_range=(0.1, 2.0), prob=1.0),
    dict(type='RSGaussNoise', var_limit=(10., 50.), prob=0.6),
    dict(type='RSSolarize', threshold=0.5, prob=0.2),
    dict(type='RSToGray', prob=0.2),
]
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='Resize', scale=(crop_size, crop_size), interpolation='bicubic'),
    dict(type='CMIDMultiView', view_pipelines=[view_a, view_b], crop_size=crop_size,
         crop_ratio_range=(0.3, 1.0), flip_prob=0.5,
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=crop_size,
                             mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)),
    dict(type='PackInputs', algorithm_keys=['grid', 'mask'], meta_keys=['img_path']),
]
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True, pin_memory=False,
    dataset=dict(data_root='data/rs/pretrain/rgb', pipeline=train_pipeline))

max_epochs = 20
warmup_epochs = 2
optim_wrapper = dict(optimizer=dict(lr=2e-3))
# as the reference (docs/architecture.md): the cosine spans the whole run from iteration 0
# and the linear warm-up factor multiplies it over the first epochs
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=5, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(base_batch_size=32)
