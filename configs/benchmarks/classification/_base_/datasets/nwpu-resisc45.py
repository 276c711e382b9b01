# NWPU-RESISC45: 45 classes x 700 images of 256 x 256 px; usual splits 1/9 and 2/8.
# Layout: data/nwpu_resisc45/{train,val}/<class>/<image>, split once and kept fixed.
_base_ = './rs_scene_bs64_224.py'

data_root = 'data/nwpu_resisc45'
num_classes = 45
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = val_dataloader = test_dataloader = dict(dataset=dict(data_root=data_root))
