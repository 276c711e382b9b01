# Full fine-tuning of a CMID ResNet-50 on UC Merced (21 classes); the reference recipe is in
# _base_/protocols/finetune_r50-cmid.py, the data in _base_/datasets/ucmerced.py.
_base_ = ['./_base_/protocols/finetune_r50-cmid.py', './_base_/datasets/ucmerced.py']

model = dict(head=dict(num_classes=21))
