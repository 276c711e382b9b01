# CMID, ResNet-50 student, MillionAID: ~1M unlabelled images under data/millionaid/ (any
# sub-folders), 200 epochs at 4 GPUs x 64 (lr 4e-3 for that batch, see _base_/schedules).
_base_ = ['_base_/models/cmid_resnet50.py', '_base_/datasets/folder_pretrain_224_device-views.py',
          '_base_/schedules/adan_200e.py', '_base_/default_runtime.py']
train_dataloader = dict(dataset=dict(data_root='data/millionaid/'))
# the strong view's photometric ops run batched on the training device (the workers only
# load, crop, flip and mask); _base_/datasets/folder_pretrain_224.py is the per-image path
model = dict(data_preprocessor=dict(view_batch_augments=[_base_.view_a, _base_.view_b]))
