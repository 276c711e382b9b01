"""The shipped pretraining configs load, build, and run a real-size step."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS, TRANSFORMS
from PIL import Image

from tests.helpers import REPO

CONFIGS = sorted((REPO / 'configs/cmid').glob('*.py'))


def test_every_pretraining_config_follows_naming_and_loads():
    assert len(CONFIGS) >= 6
    for path in CONFIGS:
        cfg = Config.fromfile(str(path))
        assert cfg.model.type == 'CMID', path.name
        assert cfg.default_scope == 'mmpretrain'
        assert 'cmid_mm' in cfg.custom_imports.imports
        algo, backbone, rest = path.stem.split('_', 2)
        assert algo.startswith('cmid') and 'xb' in rest and 'e_' in rest, path.name


@pytest.mark.parametrize('name,channels', [
    ('cmid_resnet50_4xb64-adan-200e_millionaid.py', 2048),
    ('cmid_swin-base_4xb64-adan-200e_millionaid.py', 1024),
])
def test_real_size_config_forward_backward_224(name, channels, pretrain_tiles, tmp_path):
    cfg = Config.fromfile(str(REPO / 'configs/cmid' / name))
    MessageHub.get_current_instance().update_info('max_iters', 1000)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.global_head.queue.shape == (256, 65536)
    pipeline = [TRANSFORMS.build(t) for t in cfg.train_pipeline]
    samples = []
    for f in sorted(Path(pretrain_tiles).glob('*.png'))[:2]:
        r = dict(img_path=str(f))
        for t in pipeline:
            r = t(r)
        samples.append(r)
    data = model.data_preprocessor(default_collate(samples), training=True)
    assert data['inputs']['img'][0].shape == (2, 3, 224, 224)
    assert data['inputs']['grid'][0].shape == (2, 49, 2)
    assert data['inputs']['mask'][0].shape == (2, 56, 56)
    losses = model(**data, mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.mask_token.grad.abs().sum() > 0
    assert model.neck.decoder[0].in_channels == channels


def test_rgba_and_gray_png_go_through_the_pretraining_pipeline(tmp_path):
    cfg = Config.fromfile(str(REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'))
    pipeline = [TRANSFORMS.build(t) for t in cfg.train_pipeline]
    for mode in ('RGBA', 'L'):
        p = tmp_path / f'{mode}.png'
        Image.new(mode, (150, 90), 120).save(p)
        r = dict(img_path=str(p))
        for t in pipeline:
            r = t(r)
        assert [tuple(v.shape) for v in r['inputs']] == [(3, 128, 128)] * 2
