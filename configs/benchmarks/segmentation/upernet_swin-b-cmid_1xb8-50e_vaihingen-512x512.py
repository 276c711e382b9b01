# UperNet with a CMID Swin-B (window 7) on ISPRS Vaihingen, 6 classes, 512 x 512 crops
# (paper: 80.01 mIoU); model, data and the reference's schedule in _base_/.
_base_ = ['./_base_/models/upernet_swin-b-cmid.py', './_base_/datasets/vaihingen.py',
          './_base_/schedules/adamw_50e.py', './_base_/default_runtime.py']

model = dict(decode_head=dict(num_classes=6), auxiliary_head=dict(num_classes=6))
