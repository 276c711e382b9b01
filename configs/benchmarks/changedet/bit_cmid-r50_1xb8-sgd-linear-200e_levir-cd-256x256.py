# BIT (as in the CMID paper) with a CMID ResNet-50 backbone on LEVIR-CD, trained on random
# 256x256 crops (x16 per epoch) and evaluated on non-overlapping 256x256 windows
# of the 1024x1024 test images; the reference schedule: batch 8 on 1 GPU,
# SGD, 200 epochs, linear lr decay.
_base_ = [
    './_base_/models/bit_cmid-r50.py',
    './_base_/datasets/levir-cd.py',
    './_base_/schedules/sgd-linear-200e.py',
    './_base_/default_runtime.py',
]
model = dict(test_cfg=dict(mode='slide', crop_size=(256, 256), stride=(256, 256)))
