# ISPRS Potsdam in mmseg's layout (python tools/dataset_converters/potsdam.py, mmseg),
# 512 x 512 crops, batch 8 as the reference. The reference evaluates Potsdam on 5 classes,
# clutter/background ignored (its PotsdamDataset has 5 CLASSES and loads labels with
# ignore_index=6); mmseg's PotsdamDataset does the same when given these classes:
# label_map sends clutter to 255, the ignore index.
_base_ = 'mmseg::_base_/datasets/potsdam.py'

potsdam_5_classes = dict(
    classes=('impervious_surface', 'building', 'low_vegetation', 'tree', 'car'))
train_dataloader = dict(
    batch_size=8,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(metainfo=potsdam_5_classes))
val_dataloader = test_dataloader = dict(dataset=dict(metainfo=potsdam_5_classes))
val_evaluator = test_evaluator = dict(iou_metrics=['mIoU', 'mFscore'])
