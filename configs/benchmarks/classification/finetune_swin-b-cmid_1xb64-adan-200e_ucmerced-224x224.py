# Full fine-tuning of a CMID Swin-B on UC Merced (21 classes); the reference recipe is in
# _base_/protocols/finetune_swin-b-cmid.py, the data in _base_/datasets/ucmerced.py.
_base_ = ['./_base_/protocols/finetune_swin-b-cmid.py', './_base_/datasets/ucmerced.py']

model = dict(head=dict(num_classes=21))
