# The reference schedule of adan_200e.py over 400 epochs (the cosine spans all of them).
_base_ = './adan_200e.py'

max_epochs = 400
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
