# Small CMID for CPU with a tiny ViT student (192 wide, 4 layers, 3 heads, patch 16) on the
# 128 px Sentinel-2 tiles of tools/data/build_rs_datasets.py (tests; the ViT benchmark rows).
# Everything but the student is the ResNet-18 CPU config (its short-schedule rules hold: same
# N, B and epochs). 128 px / 16 = 8 x 8 token grid; 32 px mask blocks drawn at patch
# resolution (model_patch_size=16); the location grid follows output_stride=16.
_base_ = ['cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py']
crop_size = 128
patch_size = 16
embed_dims = 192
model = dict(
    backbone=dict(_delete_=True, type='CMIDViT', img_size=crop_size, patch_size=patch_size,
                  arch=dict(embed_dims=embed_dims, num_layers=4, num_heads=3,
                            feedforward_channels=4 * embed_dims),
                  in_channels=3, drop_rate=0., drop_path_rate=0., out_indices=-1,
                  replace=True),
    neck=dict(in_channels=embed_dims, encoder_stride=patch_size),
    projector=dict(in_channels=embed_dims),
    local_head=dict(in_channels=embed_dims, use_bn=False),
)
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='Resize', scale=(crop_size, crop_size), interpolation='bicubic'),
    dict(type='CMIDMultiView', view_pipelines=[_base_.view_a, _base_.view_b],
         crop_size=crop_size, crop_ratio_range=(0.3, 1.0), flip_prob=0.5,
         output_stride=patch_size,
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=crop_size,
                             mask_patch_size=32, model_patch_size=patch_size,
                             mask_ratio=0.6)),
    dict(type='PackInputs', algorithm_keys=['grid', 'mask'], meta_keys=['img_path']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'mask_token': dict(decay_mult=0.), 'pos_embed': dict(decay_mult=0.),
    'cls_token': dict(decay_mult=0.)}))
