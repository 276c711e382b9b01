# Linear probe recipe of linear_swin-b-cmid_1xb64-sgd-coslr-90e_ucmerced-224x224.py on NWPU-RESISC45 (45 classes): same
# model, schedule and augmentation; only the data and the class count change.
# NWPU-RESISC45: 45 classes x 700 images of 256 x 256 px; usual splits 1/9 and 2/8.
# Layout: data/nwpu_resisc45/{train,val}/<class>/<image>, split once and kept fixed.
_base_ = './linear_swin-b-cmid_1xb64-sgd-coslr-90e_ucmerced-224x224.py'

data_root = 'data/nwpu_resisc45'
num_classes = 45

model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
