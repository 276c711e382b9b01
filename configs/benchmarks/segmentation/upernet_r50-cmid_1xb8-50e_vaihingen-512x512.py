# UperNet with a CMID ResNet-50 on ISPRS Vaihingen, 6 classes, 512 x 512 crops
# (paper: 79.44 mIoU); model, data and the reference's schedule in _base_/.
_base_ = ['./_base_/models/upernet_r50-cmid.py', './_base_/datasets/vaihingen.py',
          './_base_/schedules/sgd_50e.py', './_base_/default_runtime.py']

model = dict(decode_head=dict(num_classes=6), auxiliary_head=dict(num_classes=6))
