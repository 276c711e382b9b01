# Full fine-tuning of a CMID Swin-B on NWPU-RESISC45 (45 classes); the reference recipe is in
# _base_/protocols/finetune_swin-b-cmid.py, the data in _base_/datasets/nwpu-resisc45.py.
_base_ = ['./_base_/protocols/finetune_swin-b-cmid.py', './_base_/datasets/nwpu-resisc45.py']

model = dict(head=dict(num_classes=45))
