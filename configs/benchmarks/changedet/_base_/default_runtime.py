# Runtime of the change-detection benchmarks. Our change-detection modules live
# in mmseg's registries (scope 'mmseg'); `custom_imports` registers them.
default_scope = 'mmseg'
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the best epoch by changed-class F1 (what the paper reports)
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=2,
                    save_best='F1_changed', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # A | B | GT | prediction PNGs; `tools/test.py --show-dir DIR` sets draw=True, out_dir=DIR
    visualization=dict(type='CDVisualizationHook', draw=False, interval=1),
)
# the reference (official-CMID ChangeDetection/train.py) seeds everything with 322
randomness = dict(seed=322)
