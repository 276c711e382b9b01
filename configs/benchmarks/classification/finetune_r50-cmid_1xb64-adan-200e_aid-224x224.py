# Fine-tuning recipe of finetune_r50-cmid_1xb64-adan-200e_ucmerced-224x224.py on AID (30 classes): same
# model, schedule and augmentation; only the data and the class count change.
# AID: 30 classes, 10,000 images of 600 x 600 px; usual splits 2/8 and 5/5.
# Layout: data/aid/{train,val}/<class>/<image>, split once and kept fixed.
_base_ = './finetune_r50-cmid_1xb64-adan-200e_ucmerced-224x224.py'

data_root = 'data/aid'
num_classes = 30

model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
