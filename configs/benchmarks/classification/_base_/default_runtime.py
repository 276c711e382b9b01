# Runtime of every classification benchmark: mmpretrain's, with cmid_mm registered and
# the checkpoint of the best top-1 accuracy kept.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                                     save_best='accuracy/top1'))
