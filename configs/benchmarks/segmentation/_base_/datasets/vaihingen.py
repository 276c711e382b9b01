# ISPRS Vaihingen in mmseg's layout (python tools/dataset_converters/vaihingen.py, mmseg),
# 512 x 512 crops, batch 8 as the reference, mmseg's 6 classes (as the reference).
_base_ = 'mmseg::_base_/datasets/vaihingen.py'

train_dataloader = dict(batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True))
val_evaluator = test_evaluator = dict(iou_metrics=['mIoU', 'mFscore'])
