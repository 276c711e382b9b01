# CMID, ViT-B/16 student, MillionAID (data/millionaid/), 224 px, 200 epochs at 4 GPUs x 64.
# The schedule, optimiser (Adan, lr 4e-3 for 256 images, wd 0.02), crop and mask settings
# are the reference's Swin-B values (_base_/schedules/adan_200e.py,
# _base_/datasets/folder_pretrain_224_device-views.py): the paper trains its transformers
# with one recipe and publishes no ViT config, so they are carried over unchanged. The mask
# keeps the reference's 32 px blocks (a multiple of the 16 px patch) at 60 %, drawn at
# patch resolution (model_patch_size=16); the location grid has 224 // 16 = 14 cells.
_base_ = ['_base_/models/cmid_vit-base-p16.py',
          '_base_/datasets/folder_pretrain_224_device-views.py',
          '_base_/schedules/adan_200e.py', '_base_/default_runtime.py']
crop_size = 224
patch_size = 16
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='Resize', scale=(crop_size, crop_size), interpolation='bicubic'),
    dict(type='CMIDMultiView', view_pipelines=[[], []], crop_size=crop_size,
         crop_ratio_range=(0.3, 1.0), flip_prob=0.5, interpolation='bilinear',
         output_stride=patch_size,
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=crop_size,
                             mask_patch_size=32, model_patch_size=patch_size,
                             mask_ratio=0.6)),
    dict(type='PackInputs', algorithm_keys=['grid', 'mask'], meta_keys=['img_path']),
]
train_dataloader = dict(dataset=dict(data_root='data/millionaid/', pipeline=train_pipeline))
model = dict(data_preprocessor=dict(view_batch_augments=[_base_.view_a, _base_.view_b]))
# ViT's usual exemption (not a Swin value: the Swin-B student has no absolute position
# embedding): no weight decay on the position embedding and the CLS token either.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'mask_token': dict(decay_mult=0.), 'pos_embed': dict(decay_mult=0.),
    'cls_token': dict(decay_mult=0.)}))
