# The reference's 50-epoch schedule with its ResNet-50 optimiser: SGD lr 0.01,
# momentum 0.9, weight decay 1e-4.
_base_ = './schedule_50e.py'

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
