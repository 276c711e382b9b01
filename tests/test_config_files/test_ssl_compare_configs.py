"""The SSL-comparison configs (configs/benchmarks/ssl_compare/) run as they are: their train
dataloader builds with mmengine's Runner.build_dataloader (what tools/train.py does) and
draws a batch of real tiles, normalised with the shared RS statistics."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / 'configs/benchmarks/ssl_compare').glob('*.py'))
RS_NORM = Config.fromfile(str(REPO / 'configs/_base_/rs_norm.py'))


def test_every_method_and_backbone_is_there():
    names = {p.stem for p in CONFIGS}
    assert names == {f'{m}_{b}' for m in ('mocov2', 'byol', 'simmim')
                     for b in ('resnet18_s2-tiles-128', 'resnet50_s2-tiles-224',
                               'swin-base_s2-tiles-224')}


def _views(inputs) -> list[torch.Tensor]:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_train_dataloader_draws_a_batch(path, pretrain_tiles):
    cfg = Config.fromfile(str(path))
    assert cfg.data_preprocessor.mean == RS_NORM.rs_mean
    assert cfg.data_preprocessor.std == RS_NORM.rs_std
    init_default_scope(cfg.default_scope)
    loader_cfg = cfg.train_dataloader.to_dict()
    loader_cfg.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader_cfg['dataset']['data_root'] = str(pretrain_tiles)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batch = next(iter(loader))
    views = _views(batch['inputs'])
    assert len(views) == (1 if path.stem.startswith('simmim') else 2)
    for view in views:
        assert view.shape == (2, 3, cfg.crop_size, cfg.crop_size)
        assert view.dtype == torch.uint8
    assert len(batch['data_samples']) == 2
    if path.stem.startswith('simmim'):  # the SimMIM mask of 32 px blocks at the model's stride 4
        mask = torch.stack([s.mask for s in batch['data_samples']])
        assert mask.shape == (2, cfg.crop_size // 4, cfg.crop_size // 4)
