"""Every config of configs/benchmarks/changedet loads with mmengine and builds its model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS, TRANSFORMS

from cmid_mm.changedet import SiamEncoderDecoder

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'benchmarks' / 'changedet'
CONFIGS = sorted(CONFIG_DIR.glob('*.py'))


def test_all_eight_benchmarks_exist():
    names = {p.name for p in CONFIGS}
    for algo in ('bit', 'siam-upernet'):
        for backbone, opt in (('r50', 'sgd'), ('swin-b', 'adamw')):
            for data in ('cdd', 'levir-cd'):
                assert f'{algo}_cmid-{backbone}_1xb8-{opt}-linear-200e_{data}-256x256.py' in names
    assert len(CONFIGS) == 8


def _pipelines(cfg) -> list[list[dict]]:
    train = cfg.train_dataloader.dataset
    train = train.get('dataset', train)  # RepeatDataset wrapper on LEVIR-CD
    return [train.pipeline, cfg.val_dataloader.dataset.pipeline,
            cfg.test_dataloader.dataset.pipeline]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_shape(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports.imports == ['cmid_mm']
    # one checkpoint variable feeds the backbone init, with the checkpoint contract's prefix
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix == 'backbone.'
    assert init.checkpoint == cfg.cmid_checkpoint
    # the reference schedule
    assert cfg.train_cfg.max_epochs == 200 and cfg.train_dataloader.batch_size == 8
    opt = cfg.optim_wrapper.optimizer
    if 'r50' in path.name:
        assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.002, 0.99, 5e-4)
    else:
        assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 6e-5, 0.01)
    sched = cfg.param_scheduler[0]
    assert sched.type == 'LinearLR' and sched.end_factor == pytest.approx(1 / 201)
    # open-cd data keys, 256 x 256 training samples, changed-class metric
    train = cfg.train_dataloader.dataset
    train = train.get('dataset', train)
    assert set(train.data_prefix) == {'img_path_from', 'img_path_to', 'seg_map_path'}
    if 'levir' in path.name:
        assert train.type == 'LEVIR_CD_Dataset'
        crop = [t for t in train.pipeline if t.type == 'MultiImgRandomCrop'][0]
        assert tuple(crop.crop_size) == (256, 256)
        assert cfg.model.test_cfg.mode == 'slide' and tuple(cfg.model.test_cfg.crop_size) == (
            256, 256)
    else:
        assert train.type == 'SVCD_Dataset' and train.data_prefix.seg_map_path == 'train/OUT'
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'CDMetric'
    assert cfg.default_hooks.visualization.type == 'CDVisualizationHook'
    for pipeline in _pipelines(cfg):
        for step in pipeline:
            TRANSFORMS.build(step)  # every transform type is registered
    assert DATASETS.get(train.type) is not None


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_builds_model(path):
    cfg = Config.fromfile(str(path))
    model = MODELS.build(cfg.model)  # no init_weights: the checkpoint file is not needed
    assert isinstance(model, SiamEncoderDecoder)
    backbone = model.backbone
    if 'r50' in path.name:
        assert type(backbone).__name__ == 'ResNet' and backbone.depth == 50
        assert not backbone.deep_stem  # torchvision stem: keys of the CMID ResNet-50
        model.eval()
        with torch.no_grad():
            out = model.predict(torch.randn(1, 6, 64, 64))
        assert out[0].pred_sem_seg.data.shape == (1, 64, 64)
    else:
        assert type(backbone).__name__ == 'SwinTransformer'
        assert backbone.patch_embed.projection.out_channels == 128
        blocks = [len(stage.blocks) for stage in backbone.stages]
        heads = [stage.blocks[0].attn.w_msa.num_heads for stage in backbone.stages]
        window = backbone.stages[0].blocks[0].attn.w_msa.window_size
        assert blocks == [2, 2, 18, 2][:len(blocks)] and heads == [4, 8, 16, 32][:len(heads)]
        assert tuple(window) == (7, 7)
    if 'bit' in path.name:
        assert type(model.decode_head).__name__ == 'BITHead'
        assert (model.decode_head.token_len, len(model.decode_head.encoder),
                len(model.decode_head.decoder)) == (4, 1, 8)
