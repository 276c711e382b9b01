# Linear probe of a frozen CMID ResNet-50 on NWPU-RESISC45 (45 classes); the protocol is in
# _base_/protocols/linear_r50-cmid.py, the data in _base_/datasets/nwpu-resisc45.py.
_base_ = ['./_base_/protocols/linear_r50-cmid.py', './_base_/datasets/nwpu-resisc45.py']

model = dict(head=dict(num_classes=45))
train_pipeline = _base_.linear_probe_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
