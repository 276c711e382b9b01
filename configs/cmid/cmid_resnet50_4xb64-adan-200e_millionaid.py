# CMID, ResNet-50 student, MillionAID: ~1M unlabelled images under data/millionaid/ (any
# sub-folders), 200 epochs at 4 GPUs x 64 (lr 4e-3 for that batch, see _base_/schedules).
_base_ = ['_base_/models/cmid_resnet50.py', '_base_/datasets/folder_pretrain_224.py',
          '_base_/schedules/adan_200e.py', '_base_/default_runtime.py']
train_dataloader = dict(dataset=dict(data_root='data/millionaid/'))
