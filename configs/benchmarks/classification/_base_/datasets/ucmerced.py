# UC Merced Land Use: 21 classes x 100 images of 256 x 256 px; the paper splits 8/2.
# Layout: data/ucmerced/{train,val}/<class>/<image>, split once and kept fixed.
_base_ = './rs_scene_bs64_224.py'

data_root = 'data/ucmerced'
num_classes = 21

data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
