# siamese UPerNet with a CMID ResNet-50 backbone on CDD (256x256 pairs),
# the reference schedule: batch 8 on 1 GPU, SGD, 200 epochs, linear lr decay.
# Paper (CMID, TGRS 2023, BIT on CDD): changed-class F1 96.95 (R50) / 97.11 (Swin-B).
_base_ = [
    './_base_/models/siam-upernet_cmid-r50.py',
    './_base_/datasets/cdd.py',
    './_base_/schedules/sgd-linear-200e.py',
    './_base_/default_runtime.py',
]
