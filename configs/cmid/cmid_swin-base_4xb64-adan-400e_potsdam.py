# CMID, Swin-B student, ISPRS Potsdam (data/potsdam_tiles/), 400 epochs at 4 GPUs x 64.
_base_ = ['_base_/models/cmid_swin-base.py', '_base_/datasets/folder_pretrain_224_device-views.py',
          '_base_/schedules/adan_400e.py', '_base_/default_runtime.py']
train_dataloader = dict(dataset=dict(data_root='data/potsdam_tiles/'))
# the strong view's photometric ops run batched on the training device (the workers only
# load, crop, flip and mask); _base_/datasets/folder_pretrain_224.py is the per-image path
model = dict(data_preprocessor=dict(view_batch_augments=[_base_.view_a, _base_.view_b]))
