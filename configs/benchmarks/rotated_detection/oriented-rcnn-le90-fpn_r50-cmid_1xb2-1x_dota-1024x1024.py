# Oriented R-CNN (le90, FPN, 1x) with a CMID ResNet-50 on DOTA v1.0, the paper's
# detection benchmark (paper: 76.63 mAP on the test split). mmrotate's stock config, only
# the backbone weights changed. Data: DOTA v1.0 cut into 1024 x 1024 patches by mmrotate's
# tools/data/dota/split/img_split.py (split_ss_dota layout).
# Splits:
# - train: trainval/ (train + val, as the paper).
# - val (evaluation during training): mmrotate's, i.e. the trainval/ patches = the training
#   data, so its mAP only checks the fit; it is not a result.
# - test (tools/test.py): the DOTA v1.0 *test* split (test/images/, no labels). DOTAMetric
#   with format_only merges the patch detections per image and writes the DOTA Task1
#   submission (work_dirs/dota/Task1/*.txt and Task1.zip) for the evaluation server, whose
#   mAP is the number to compare with the paper.
# Weights: python tools/model_converters/extract_backbone.py CMID.pth \
#              checkpoints/cmid_r50_mmdet.pth --target mmrotate
_base_ = ['mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py']
custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)
default_scope = 'mmrotate'

pretrained = 'checkpoints/cmid_r50_mmdet.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))

test_dataloader = dict(
    dataset=dict(ann_file='', data_prefix=dict(img_path='test/images/'),
                 pipeline=_base_.test_pipeline))
test_evaluator = dict(format_only=True, merge_patches=True, outfile_prefix='./work_dirs/dota/Task1')
