"""Paths, folder conventions and helpers shared by the downstream tests."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
sys.path.insert(0, str(HERE))

import extract_backbone  # noqa: E402

CONFIGS = ROOT / 'configs' / 'benchmarks'
FIXTURES = ROOT / 'tests' / 'data' / 'downstream'
# benchmark folder -> (default scope, extract_backbone --target)
FOLDERS = {
    'classification': ('mmpretrain', 'mmpretrain'),
    'segmentation': ('mmseg', 'mmseg'),
    'detection': ('mmdet', 'mmdet'),
    'rotated_detection': ('mmrotate', 'mmrotate'),
}
# the exported file name the configs expect, per --target (mmrotate uses mmdet's classes)
FILE_TARGET = {'mmpretrain': 'mmpretrain', 'mmseg': 'mmseg', 'mmdet': 'mmdet',
               'mmrotate': 'mmdet'}


def export(ckpt: Path, out: Path, target: str) -> dict[str, torch.Tensor]:
    """Run extract_backbone and return the exported weights without the prefix."""
    assert extract_backbone.main([str(ckpt), str(out), '--target', target]) == 0
    sd = torch.load(out, map_location='cpu', weights_only=True)['state_dict']
    return {k[len('backbone.'):]: v for k, v in sd.items()}


def registry_of(scope: str):
    """The MODELS registry of a default scope (mmpretrain, mmseg, mmdet, mmrotate)."""
    return importlib.import_module(f'{scope}.registry').MODELS
