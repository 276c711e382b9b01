# CMID with BYOL as the global branch instead of MoCo v2 (the reference has both).
_base_ = './cmid_resnet50_4xb64-adan-200e_millionaid.py'
model = dict(
    projector=dict(_delete_=True, type='NonLinearNeck', in_channels=2048, hid_channels=4096,
                   out_channels=256, num_layers=2, with_avg_pool=True),
    global_head=dict(
        _delete_=True, type='CMIDBYOLHead',
        loss=dict(type='CosineSimilarityLoss', shift_factor=2.0, scale_factor=2.0),
        predictor=dict(type='NonLinearNeck', in_channels=256, hid_channels=4096,
                       out_channels=256, num_layers=2, with_avg_pool=False)),
)
