# siamese UPerNet with a CMID Swin-B backbone on LEVIR-CD, trained on random
# 256x256 crops (x16 per epoch) and evaluated on non-overlapping 256x256 windows
# of the 1024x1024 test images; the reference schedule: batch 8 on 1 GPU,
# AdamW, 200 epochs, linear lr decay.
_base_ = [
    './_base_/models/siam-upernet_cmid-swin-b.py',
    './_base_/datasets/levir-cd.py',
    './_base_/schedules/adamw-linear-200e.py',
    './_base_/default_runtime.py',
]
model = dict(test_cfg=dict(mode='slide', crop_size=(256, 256), stride=(256, 256)))
