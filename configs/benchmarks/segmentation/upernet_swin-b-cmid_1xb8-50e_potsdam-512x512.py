# UperNet with a CMID Swin-B (window 7) on ISPRS Potsdam, 5 classes (clutter ignored), 512 x 512 crops
# (paper: 88.36 mIoU); model, data and the reference's schedule in _base_/.
_base_ = ['./_base_/models/upernet_swin-b-cmid.py', './_base_/datasets/potsdam.py',
          './_base_/schedules/adamw_50e.py', './_base_/default_runtime.py']

model = dict(decode_head=dict(num_classes=5), auxiliary_head=dict(num_classes=5))
