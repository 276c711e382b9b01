"""End to end on the real-imagery fixture: CMID checkpoint -> train a few iterations -> P/R/F1/IoU.

Siamese UPerNet and BIT on a ResNet-18 (the CMID ResNet-50 recipe, shrunk for
CPU), backbone initialised from a CMID training checkpoint as the CMID
algorithm writes it (``backbone.*`` + teacher, heads, queue...).
"""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import MODELS

NORM = dict(type='BN', requires_grad=True)
KEYS = ('precision_changed', 'recall_changed', 'F1_changed', 'IoU_changed')


def _model(kind: str, checkpoint: str) -> dict:
    init_cfg = dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    data_preprocessor = dict(type='DualInputSegDataPreProcessor',
                             mean=[86.182, 91.928, 85.374] * 2, std=[34.655, 34.476, 35.879] * 2,
                             bgr_to_rgb=True, size_divisor=32, test_cfg=dict(size_divisor=32))
    if kind == 'upernet':
        return dict(
            type='SiamEncoderDecoder', data_preprocessor=data_preprocessor,
            backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                          norm_cfg=NORM, style='pytorch', init_cfg=init_cfg),
            neck=dict(type='FeatureFusionNeck', policy='concat'),
            decode_head=dict(type='UPerHead', in_channels=[128, 256, 512, 1024],
                             in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6), channels=32,
                             dropout_ratio=0.1, num_classes=2, norm_cfg=NORM,
                             align_corners=False,
                             loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            auxiliary_head=dict(type='FCNHead', in_channels=512, in_index=2, channels=16,
                                num_convs=1, concat_input=False, num_classes=2,
                                norm_cfg=NORM, align_corners=False,
                                loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
            test_cfg=dict(mode='whole'))
    return dict(
        type='SiamEncoderDecoder', data_preprocessor=data_preprocessor,
        backbone=dict(type='ResNet', depth=18, num_stages=3, out_indices=(2, ),
                      strides=(1, 2, 2), dilations=(1, 1, 1), norm_cfg=NORM,
                      style='pytorch', init_cfg=init_cfg),
        neck=dict(type='FeatureFusionNeck', policy='concat', out_indices=(0, )),
        decode_head=dict(type='BITHead', in_channels=256, channels=32, embed_dims=64,
                         enc_depth=1, dec_depth=8, num_heads=8, token_len=4,
                         pre_upsample=2, upsample_size=4, num_classes=2,
                         norm_cfg=dict(type='LN', requires_grad=True), align_corners=False,
                         loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        # slide inference over 32 px windows exercises the open-cd LEVIR setting
        test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(32, 32)))


def _loader(root, split: str, pipeline: list, batch_size: int, shuffle: bool) -> dict:
    return dict(
        batch_size=batch_size, num_workers=0,
        sampler=dict(type='InfiniteSampler' if shuffle else 'DefaultSampler', shuffle=shuffle),
        dataset=dict(type='LEVIR_CD_Dataset', data_root=str(root),
                     data_prefix=dict(img_path_from=f'{split}/A', img_path_to=f'{split}/B',
                                      seg_map_path=f'{split}/label'),
                     pipeline=pipeline))


def _backbone_matches(model, state: dict) -> tuple[set, bool]:
    """(missing backbone keys, all loaded values equal to the checkpoint's student)."""
    own = model.backbone.state_dict()
    file_keys = {k[len('backbone.'):] for k in state if k.startswith('backbone.')}
    missing = set(own) - file_keys
    equal = all(torch.equal(own[k], state[f'backbone.{k}']) for k in own if k in file_keys)
    return missing, equal


class _RecordInit(Hook):
    """Check the backbone against the checkpoint right before the first iteration."""

    def __init__(self, state: dict) -> None:
        self.state = state
        self.result = None

    def before_train(self, runner) -> None:
        self.result = _backbone_matches(runner.model, self.state)


@pytest.mark.parametrize('kind', ['upernet', 'bit'])
def test_cmid_checkpoint_loads_without_missing_backbone_keys(kind, cmid_r18_checkpoint):
    path, state = cmid_r18_checkpoint
    model = MODELS.build(_model(kind, str(path)))
    before = copy.deepcopy(model.backbone.state_dict())
    model.init_weights()
    missing, equal = _backbone_matches(model, state)
    assert missing == set()
    assert equal
    # the student was loaded, not the EMA teacher (stored +1) nor the fresh init
    w = 'layer1.0.conv1.weight'
    assert not torch.equal(model.backbone.state_dict()[w], before[w])
    assert not torch.equal(model.backbone.state_dict()[w],
                           state[f'teacher.module.backbone.{w}'])


@pytest.mark.parametrize('kind', ['upernet', 'bit'])
def test_train_then_evaluate_changed_class(kind, levir_root, cmid_r18_checkpoint, tmp_path):
    path, state = cmid_r18_checkpoint
    train_pipeline = [
        dict(type='MultiImgLoadImageFromFile'),
        dict(type='MultiImgLoadAnnotations'),
        dict(type='MultiImgRandomCrop', crop_size=(64, 64)),
        dict(type='MultiImgRandomFlip', prob=0.5, direction='horizontal'),
        dict(type='MultiImgRandomFlip', prob=0.5, direction='vertical'),
        dict(type='MultiImgRandomRotFlip', rotate_prob=0.0, flip_prob=1.0),
        dict(type='MultiImgExchangeTime', prob=0.5),
        dict(type='MultiImgPhotoMetricDistortion', brightness_delta=10,
             contrast_range=(0.8, 1.2), saturation_range=(0.8, 1.2), hue_delta=10),
        dict(type='MultiImgPackSegInputs'),
    ]
    test_pipeline = [dict(type='MultiImgLoadImageFromFile'),
                     dict(type='MultiImgLoadAnnotations'),
                     dict(type='MultiImgPackSegInputs')]
    record = _RecordInit(state)
    runner = Runner(
        model=_model(kind, str(path)),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=_loader(levir_root, 'train', train_pipeline, 2, True),
        val_dataloader=_loader(levir_root, 'val', test_pipeline, 1, False),
        test_dataloader=_loader(levir_root, 'test', test_pipeline, 1, False),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=4, val_interval=4),
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        val_evaluator=dict(type='CDMetric'),
        test_evaluator=dict(type='CDMetric'),
        optim_wrapper=dict(type='OptimWrapper',
                           optimizer=dict(type='SGD', lr=0.002, momentum=0.99,
                                          weight_decay=0.0005)),
        default_hooks=dict(checkpoint=None, logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[record],
        default_scope='mmseg',
        randomness=dict(seed=0),
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo')),
        log_level='WARNING')
    runner.train()
    missing, equal = record.result
    assert missing == set() and equal  # training started from the CMID student backbone
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(v)) for v in losses)
    metrics = runner.test()
    for key in KEYS:
        assert 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
    assert 0.0 <= metrics['OA'] <= 1.0
    # F1 is consistent with the reported precision and recall
    p, r = metrics['precision_changed'], metrics['recall_changed']
    expected_f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    assert metrics['F1_changed'] == pytest.approx(expected_f1, abs=1e-9)
