"""Shared fixtures of the change-detection tests: the LEVIR-layout fixture and CMID checkpoints."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from PIL import Image

import cmid_mm  # noqa: F401  (registers the change-detection modules)

os.environ.setdefault('OMP_NUM_THREADS', '1')
torch.set_num_threads(1)

LEVIR_TINY = Path(__file__).resolve().parents[1] / 'data' / 'levir_tiny'


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Every change-detection test runs in the scope our configs use."""
    init_default_scope('mmseg')


@pytest.fixture(scope='session')
def levir_root() -> Path:
    assert (LEVIR_TINY / 'train' / 'A').is_dir(), (
        f'{LEVIR_TINY} is missing: run `python tests/data/make_levir_tiny.py`')
    return LEVIR_TINY


@pytest.fixture(scope='session')
def read_pair(levir_root: Path):
    """read_pair(split, name) -> (A, B) RGB uint8 (H, W, 3) and the 0/255 label (H, W)."""

    def _read(split: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.array(Image.open(levir_root / split / sub / name))
                     for sub in ('A', 'B', 'label'))

    return _read


def make_cmid_checkpoint(path: Path, backbone: torch.nn.Module, stem_channels: int,
                         seed: int = 0) -> dict:
    """Write a CMID-style training checkpoint built from a stock mmpretrain backbone.

    Checkpoint contract (cmid_mm.models): ``state_dict`` holds ``backbone.*``
    (student, + ``backbone.mask_token``), ``teacher.module.backbone.*`` (EMA
    teacher, deliberately different values here), projector / local-head /
    decoder weights, ``queue``, ``queue_ptr``, ``local_loss.center``;
    ``meta['cfg']`` is the config text. Student weights are randomised so that
    "loaded" can be told from "freshly initialised". Returns the state dict.
    """
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in backbone.state_dict().items():
        if value.is_floating_point():
            value = torch.rand(value.shape, generator=gen) + 0.5  # positive: BN vars ok
        state[f'backbone.{key}'] = value.clone()
        state[f'teacher.module.backbone.{key}'] = value.clone() + 1  # not the student
    state['backbone.mask_token'] = torch.zeros(1, stem_channels, 1, 1)
    state['projector.mlp.0.weight'] = torch.rand(8, 4, generator=gen)
    state['teacher.module.projector.mlp.0.weight'] = torch.rand(8, 4, generator=gen)
    state['local_head.mlp.0.weight'] = torch.rand(8, 4, 1, generator=gen)
    state['decoder.0.weight'] = torch.rand(12, 4, 1, 1, generator=gen)
    state['queue'] = torch.rand(16, 8, generator=gen)
    state['queue_ptr'] = torch.zeros(1, dtype=torch.long)
    state['local_loss.center'] = torch.zeros(1, 8, 1)
    ckpt = dict(meta=dict(cfg="model = dict(type='CMID')\n"), state_dict=state)
    torch.save(ckpt, path)
    return state


@pytest.fixture
def cmid_r18_checkpoint(tmp_path: Path) -> tuple[Path, dict]:
    """CMID-style checkpoint of a ResNet-18 student (mmpretrain keys)."""
    from mmpretrain.models import ResNet

    path = tmp_path / 'cmid_r18.pth'
    return path, make_cmid_checkpoint(path, ResNet(depth=18), stem_channels=64)


@pytest.fixture(scope='session')
def cmid_checkpoint_factory():
    """The :func:`make_cmid_checkpoint` builder, for other backbones."""
    return make_cmid_checkpoint
