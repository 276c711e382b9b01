# Linear probe of a frozen CMID Swin-B on AID (30 classes); the protocol is in
# _base_/protocols/linear_swin-b-cmid.py, the data in _base_/datasets/aid.py.
_base_ = ['./_base_/protocols/linear_swin-b-cmid.py', './_base_/datasets/aid.py']

model = dict(head=dict(num_classes=30))
train_pipeline = _base_.linear_probe_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
