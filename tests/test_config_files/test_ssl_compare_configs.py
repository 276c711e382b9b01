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


RESNETS = ('resnet18_s2-tiles-128', 'resnet50_s2-tiles-224')
#: the rows on the ResNets but not Swin (mmpretrain ships them for ResNet-50): method -> type
RESNET_ONLY = {'densecl': 'DenseCL', 'barlowtwins': 'BarlowTwins', 'mocov3': 'MoCoV3'}


def test_every_method_and_backbone_is_there():
    names = {p.stem for p in CONFIGS}
    assert names == {f'{m}_{b}' for m in ('mocov2', 'byol', 'simmim')
                     for b in (*RESNETS, 'swin-base_s2-tiles-224')} | {
                         f'{m}_{b}' for m in RESNET_ONLY for b in RESNETS} | {
                         f'{m}_vit-tiny-p16_s2-tiles-128' for m in ('mae', 'mocov3')}


def _steps(pipeline):
    for t in pipeline:
        yield t
        for view in t.get('transforms', []):
            yield from _steps(view if isinstance(view, list) else [view])


@pytest.mark.parametrize('method', sorted(RESNET_ONLY))
@pytest.mark.parametrize('backbone', RESNETS)
def test_resnet_only_rows_build_with_the_recipe_widths(method, backbone):
    """The model builds from the config as it is, with the shipped recipe's head ratios to
    the backbone width C; no mmcv ColorJitter (its hue overflows on numpy 2) is left."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(REPO / f'configs/benchmarks/ssl_compare/{method}_{backbone}.py'))
    assert not {t['type'] for t in _steps(cfg.train_dataloader.dataset.pipeline)} & {
        'ColorJitter', 'RandomApply'}
    assert cfg.optim_wrapper.type == 'OptimWrapper'  # fp32: runs on CPU as it is
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == RESNET_ONLY[method]
    c = 512 if backbone.startswith('resnet18') else 2048
    assert model.backbone.layer4[-1].conv2.out_channels * (1 if c == 512 else 4) == c
    assert not any(type(m).__name__ == 'SyncBatchNorm' for m in model.modules())
    if method == 'densecl':  # 2048 -> 2048 -> 128 for global and dense projectors
        assert model.neck.mlp[0].weight.shape == (c, c) and model.neck.mlp[2].out_features == 128
        assert model.neck.mlp2[0].weight.shape[:2] == (c, c)
    elif method == 'barlowtwins':  # 2048 -> 8192 -> 8192 -> 8192
        assert model.neck.fc0.weight.shape == (4 * c, c)
        assert model.neck.fc2.weight.shape == (4 * c, 4 * c)
        assert model.head.bn.num_features == 4 * c
    else:  # 2048 -> 4096 -> 256, predictor 256 -> 4096 -> 256
        assert model.neck.fc0.weight.shape == (2 * c, c) and model.neck.fc1.out_features == 256
        assert model.head.predictor.fc0.weight.shape == (2 * c, 256)
    if c == 512:  # one training loss of the built model: finite, gradients reach the stem
        torch.manual_seed(0)
        views = [torch.randn(4, 3, 64, 64), torch.randn(4, 3, 64, 64)]
        losses = model.loss(views, [])
        total = sum(v for v in losses.values())
        assert torch.isfinite(total)
        total.backward()
        assert model.backbone.conv1.weight.grad.abs().sum() > 0


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
    assert len(views) == (1 if path.stem.startswith(('simmim', 'mae')) else 2)  # MIM: one view
    for view in views:
        assert view.shape == (2, 3, cfg.crop_size, cfg.crop_size)
        assert view.dtype == torch.uint8
    assert len(batch['data_samples']) == 2
    if path.stem.startswith('simmim'):  # the SimMIM mask of 32 px blocks at the model's stride 4
        mask = torch.stack([s.mask for s in batch['data_samples']])
        assert mask.shape == (2, cfg.crop_size // 4, cfg.crop_size // 4)
