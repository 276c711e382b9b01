# CMID, Swin-B student, MillionAID (data/millionaid/), 200 epochs at 4 GPUs x 64.
_base_ = ['_base_/models/cmid_swin-base.py', '_base_/datasets/folder_pretrain_224.py',
          '_base_/schedules/adan_200e.py', '_base_/default_runtime.py']
train_dataloader = dict(dataset=dict(data_root='data/millionaid/'))
