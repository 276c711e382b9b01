# Linear probe of a frozen CMID ResNet-50 on AID (30 classes); the protocol is in
# _base_/protocols/linear_r50-cmid.py, the data in _base_/datasets/aid.py.
_base_ = ['./_base_/protocols/linear_r50-cmid.py', './_base_/datasets/aid.py']

model = dict(head=dict(num_classes=30))
train_pipeline = _base_.linear_probe_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
