# Runtime of every segmentation benchmark: mmseg's, with cmid_mm registered; logs are
# counted in epochs, as the schedules are.
_base_ = 'mmseg::_base_/default_runtime.py'
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmseg'

log_processor = dict(by_epoch=True)
