# Runtime shared by every CMID pretraining config (mmpretrain conventions).
default_scope = 'mmpretrain'
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic writes: a run killed mid-save never leaves a truncated checkpoint
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3,
                    backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)
# the local loss's teacher temperature warm-up; NaN weights are never saved; images skipped
# by LoadRSImage(skip_bad_images=True) are counted over all workers and ranks each epoch
custom_hooks = [dict(type='LocalTeacherTempHook'), dict(type='FiniteCheckpointHook'),
                dict(type='BadImageCountHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_processor = dict(window_size=10)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)
