# UperNet with a CMID ResNet-50 on ISPRS Potsdam, 5 classes (clutter ignored), 512 x 512 crops
# (paper: 87.35 mIoU); model, data and the reference's schedule in _base_/.
_base_ = ['./_base_/models/upernet_r50-cmid.py', './_base_/datasets/potsdam.py',
          './_base_/schedules/sgd_50e.py', './_base_/default_runtime.py']

model = dict(decode_head=dict(num_classes=5), auxiliary_head=dict(num_classes=5))
