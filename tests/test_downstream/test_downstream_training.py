"""A few training iterations + evaluation of every downstream task, from the
shipped ResNet-50 configs, on the tiny real-format fixtures under
tests/data/downstream (crops of a real Sentinel-2 scene, see
tests/data/make_downstream_fixtures.py).

To stay fast on a CPU the tests change only sizes: a ResNet-18 student
(exported from a CMID-contract checkpoint with tools/model_converters), the
channels that follow from it, 32-128 px inputs, batch 2 and one epoch. The
dataset classes, pipelines' transforms, heads, losses, optimisers, schedulers
and metrics are the shipped ones.
"""
from __future__ import annotations

import math

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tools.model_converters import extract_backbone

from .downstream_helpers import CONFIGS, FIXTURES

R18_CHANNELS = [64, 128, 256, 512]


def _common(cfg: Config, work_dir, checkpoint) -> None:
    """Settings every task shares: R18 weights, one epoch, no checkpoint files."""
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.depth = 18
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    # validation once, by runner.val() after training (val_begin past the last epoch)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_begin=100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.randomness = dict(seed=0, deterministic=False)
    cfg.env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'),
                       mp_cfg=dict(mp_start_method='fork', opencv_num_threads=1))
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].update(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.batch_size = 2
    cfg.val_dataloader.batch_size = 1
    cfg.test_dataloader = cfg.val_dataloader


def _train_and_validate(cfg: Config) -> tuple[dict, float]:
    runner = Runner.from_cfg(cfg)
    runner.train()
    loss = runner.message_hub.get_scalar('train/loss').current()
    metrics = runner.val()
    return metrics, float(loss)


def _fewer_boxes(model: Config) -> None:
    """Two-stage detectors on 128 px crops: 300 proposals, 128 sampled RoIs, 100
    detections per image (the stock 2000 / 512 / 2000 size a 1024 px image)."""
    for stage in (model.train_cfg.rpn_proposal, model.test_cfg.rpn):
        stage.update(nms_pre=300, max_per_img=300)
    model.train_cfg.rcnn.sampler.num = 128
    model.test_cfg.rcnn.max_per_img = 100


def _set_pipeline_scale(pipeline: list, **by_type) -> None:
    for step in pipeline:
        for key, value in by_type.get(step['type'], {}).items():
            step[key] = value


def test_scene_classification(cmid_r18, tmp_path, capsys):
    """UC Merced fine-tuning config (Adan, Mixup/CutMix, label smoothing) on the
    3-class folder-per-class fixture; top-1 accuracy over its 6 val images."""
    _, exports = cmid_r18
    cfg = Config.fromfile(CONFIGS / 'classification' /
                          'finetune_r50-cmid_1xb64-adan-200e_ucmerced-224x224.py')
    _common(cfg, tmp_path, exports['mmpretrain'])
    cfg.model.head.update(in_channels=512, num_classes=3)
    cfg.data_preprocessor.num_classes = 3
    root = str(FIXTURES / 'cls')
    for name in ('train_dataloader', 'val_dataloader'):
        cfg[name].dataset.data_root = root
    _set_pipeline_scale(cfg.train_dataloader.dataset.pipeline, RandomResizedCrop=dict(scale=64))
    _set_pipeline_scale(cfg.val_dataloader.dataset.pipeline, ResizeEdge=dict(scale=72),
                        CenterCrop=dict(crop_size=64))
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, ))  # 3 classes: no top-5
    cfg.test_evaluator = cfg.val_evaluator
    metrics, loss = _train_and_validate(cfg)
    assert math.isfinite(loss) and loss > 0
    top1 = metrics['accuracy/top1']
    assert 0.0 <= top1 <= 100.0
    assert (top1 * 6 / 100) == pytest.approx(round(top1 * 6 / 100), abs=1e-4)  # k of 6 right
    # the run's own mmengine checkpoint (message hub, optimizer state, config) is read
    # with weights_only=True and recognised as a classifier, not as a CMID checkpoint
    assert extract_backbone.main([str(tmp_path / 'epoch_1.pth'), str(tmp_path / 'x.pth')]) == 1
    err = capsys.readouterr().err
    assert "its config has model type 'ImageClassifier', expected \"CMID\"" in err


def test_segmentation(cmid_r18, tmp_path):
    """Potsdam UperNet config on the Potsdam-layout fixture (mmseg label values,
    reduce_zero_label, 5 classes); mIoU / mFscore over its 2 val tiles."""
    _, exports = cmid_r18
    cfg = Config.fromfile(CONFIGS / 'segmentation' / 'upernet_r50-cmid_1xb8-50e_potsdam-512x512.py')
    _common(cfg, tmp_path, exports['mmseg'])
    # 3 train tiles: drop the last batch of 1 (BN in the pyramid pooling needs 2), 2 epochs
    cfg.train_dataloader.drop_last = True
    cfg.train_cfg.update(max_epochs=2)
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.model.decode_head.update(in_channels=R18_CHANNELS, channels=32)
    cfg.model.auxiliary_head.update(in_channels=256, channels=16)
    for name in ('train_dataloader', 'val_dataloader'):
        cfg[name].dataset.data_root = str(FIXTURES / 'seg')
    _set_pipeline_scale(cfg.train_dataloader.dataset.pipeline,
                        RandomResize=dict(scale=(64, 64)), RandomCrop=dict(crop_size=(64, 64)))
    _set_pipeline_scale(cfg.val_dataloader.dataset.pipeline, Resize=dict(scale=(64, 64)))
    metrics, loss = _train_and_validate(cfg)
    assert math.isfinite(loss) and loss > 0
    for key in ('aAcc', 'mIoU', 'mAcc', 'mFscore', 'mPrecision', 'mRecall'):
        assert 0.0 <= metrics[key] <= 100.0, key


@pytest.mark.parametrize('name,classes,clutter', [
    ('upernet_r50-cmid_1xb8-50e_potsdam-512x512.py', 5, 255),  # reference: clutter ignored
    ('upernet_r50-cmid_1xb8-50e_vaihingen-512x512.py', 6, 5),
])
def test_isprs_configs_read_the_layout(name, classes, clutter):
    """Potsdam configs: mmseg's PotsdamDataset with the reference's 5 classes (clutter
    -> ignore index 255); Vaihingen configs: mmseg's ISPRSDataset with all 6."""
    import numpy as np
    from mmseg.registry import DATASETS, TRANSFORMS
    from PIL import Image
    cfg = Config.fromfile(CONFIGS / 'segmentation' / name)
    ds_cfg = cfg.val_dataloader.dataset
    ds_cfg.update(data_root=str(FIXTURES / 'seg'), pipeline=[])
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 2 and len(ds.metainfo['classes']) == classes
    info = ds.get_data_info(0)
    load = TRANSFORMS.build(dict(type='LoadAnnotations', reduce_zero_label=True))
    gt = load(dict(info, seg_fields=[]))['gt_seg_map']
    raw = np.array(Image.open(info['seg_map_path']))
    assert set(np.unique(raw)) == {1, 3, 4, 6}
    np.testing.assert_array_equal(gt[raw == 6], clutter)
    np.testing.assert_array_equal(gt[raw == 4], 3)  # tree
    np.testing.assert_array_equal(gt[raw == 1], 0)  # impervious surface


def test_horizontal_detection(cmid_r18, tmp_path):
    """DIOR Faster R-CNN config on the DIOR-layout fixture: train on train + val,
    VOC mAP on test."""
    _, exports = cmid_r18
    cfg = Config.fromfile(CONFIGS / 'detection' /
                          'faster-rcnn-fpn_r50-cmid_1xb8-1x_dior-800x800.py')
    _common(cfg, tmp_path, exports['mmdet'])
    cfg.model.neck.in_channels = R18_CHANNELS
    _fewer_boxes(cfg.model)
    root = str(FIXTURES / 'dior')
    for ds in cfg.train_dataloader.dataset.datasets:
        ds.data_root = root
        _set_pipeline_scale(ds.pipeline, Resize=dict(scale=(128, 128)))
    cfg.val_dataloader.dataset.data_root = root
    _set_pipeline_scale(cfg.val_dataloader.dataset.pipeline, Resize=dict(scale=(128, 128)))
    metrics, loss = _train_and_validate(cfg)
    assert math.isfinite(loss) and loss > 0
    assert set(metrics) >= {'pascal_voc/mAP', 'pascal_voc/AP50'}
    assert 0.0 <= metrics['pascal_voc/mAP'] <= 1.0


def test_oriented_detection(cmid_r18, tmp_path, monkeypatch):
    """DOTA Oriented R-CNN (le90) config on the DOTA-layout fixture; DOTA mAP."""
    pytest.importorskip('mmrotate')
    import multiprocessing.dummy

    from mmrotate.evaluation.functional import mean_ap
    # DOTAMetric computes TP/FP in a pool of 4 *spawned* processes, which re-import
    # the whole stack (~20 s on a busy 2-core machine); threads give the same numbers.
    monkeypatch.setattr(mean_ap, 'get_context', lambda method: multiprocessing.dummy)
    _, exports = cmid_r18
    cfg = Config.fromfile(CONFIGS / 'rotated_detection' /
                          'oriented-rcnn-le90-fpn_r50-cmid_1xb2-1x_dota-1024x1024.py')
    _common(cfg, tmp_path, exports['mmdet'])
    cfg.model.neck.in_channels = R18_CHANNELS
    _fewer_boxes(cfg.model)
    root = str(FIXTURES / 'dota')
    cfg.train_dataloader.dataset.data_root = root
    cfg.val_dataloader.dataset.update(data_root=root, ann_file='val/annfiles/',
                                      data_prefix=dict(img_path='val/images/'))
    for name in ('train_dataloader', 'val_dataloader'):
        _set_pipeline_scale(cfg[name].dataset.pipeline, **{'mmdet.Resize': dict(scale=(128, 128))})
    metrics, loss = _train_and_validate(cfg)
    assert math.isfinite(loss) and loss > 0
    assert set(metrics) >= {'dota/mAP', 'dota/AP50'}
    assert 0.0 <= metrics['dota/mAP'] <= 1.0


@pytest.fixture(autouse=True)
def _few_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
