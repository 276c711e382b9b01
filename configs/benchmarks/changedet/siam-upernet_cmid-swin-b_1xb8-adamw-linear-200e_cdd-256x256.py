# siamese UPerNet with a CMID Swin-B backbone on CDD (256x256 pairs),
# the reference schedule: batch 8 on 1 GPU, AdamW, 200 epochs, linear lr decay.
# Paper (CMID, TGRS 2023, BIT on CDD): changed-class F1 96.95 (R50) / 97.11 (Swin-B).
_base_ = [
    './_base_/models/siam-upernet_cmid-swin-b.py',
    './_base_/datasets/cdd.py',
    './_base_/schedules/adamw-linear-200e.py',
    './_base_/default_runtime.py',
]
