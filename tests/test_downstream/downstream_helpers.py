"""Paths, folder conventions and helpers shared by the downstream tests."""
from __future__ import annotations

import importlib
from pathlib import Path

import torch

from cmid_mm.export import BACKBONE_PREFIX, extract
from cmid_mm.utils import safe_load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
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


def export(ckpt: Path, out: Path, target: str, prefix: str = BACKBONE_PREFIX
           ) -> dict[str, torch.Tensor]:
    """Export the student backbone as extract_backbone.py does; return the written
    weights without the prefix."""
    report = extract(ckpt, out, target, prefix=prefix)
    assert report.ok, (report.source_check.describe(), report.target_check.describe())
    sd = safe_load_checkpoint(out)['state_dict']
    return {k[len(prefix):]: v for k, v in sd.items()}


def registry_of(scope: str):
    """The MODELS registry of a default scope (mmpretrain, mmseg, mmdet, mmrotate)."""
    return importlib.import_module(f'{scope}.registry').MODELS
