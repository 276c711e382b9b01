# AID: 30 classes, 10,000 images of 600 x 600 px; usual splits 2/8 and 5/5.
# Layout: data/aid/{train,val}/<class>/<image>, split once and kept fixed.
_base_ = './rs_scene_bs64_224.py'

data_root = 'data/aid'
num_classes = 30
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = val_dataloader = test_dataloader = dict(dataset=dict(data_root=data_root))
