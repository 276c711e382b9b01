"""Exported CMID backbones in *stock* upstream configs, read from the installed
packages (``mmpretrain::``, ``mmseg::``, ``mmdet::``, ``mmrotate::``).

For each config: the documented override (docs/downstream.md, README: the same
keys as ``CASES`` below, written into a leaf config file after ``_base_``), the
model builds, ``init_weights()`` loads the exported backbone with zero missing
and zero unexpected backbone keys, and every
backbone tensor equals the exported one. The checkpoints are real CMID models
(ResNet-50 and Swin-B students, randomly initialised and perturbed, see
tests.helpers) exported with cmid_mm.export. Each model is built once; no
forward pass.
"""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cmid_mm.export import check_pretrained_loaded
from tests.helpers import write_cmid_checkpoint

from .downstream_helpers import export, registry_of

CKPT = '{ckpt}'  # replaced by the exported file of the case's backbone and target
PRETRAINED = dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.')
SWIN_B = dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32])

# case -> (config, CMID backbone, extract_backbone --target, override)
CASES = {
    'mmpretrain-resnet50': (
        'mmpretrain::resnet/resnet50_8xb32_in1k.py', 'r50', 'mmpretrain',
        {'model.backbone.init_cfg': PRETRAINED}),
    'mmpretrain-swin-b': (
        'mmpretrain::swin_transformer/swin-base_16xb64_in1k.py', 'swin-b', 'mmpretrain',
        {'model.backbone.init_cfg': PRETRAINED}),
    # stock mmseg R50 configs: ResNetV1c (deep stem) + model-level pretrained='open-mmlab://...'
    'mmseg-upernet-r50': (
        'mmseg::upernet/upernet_r50_4xb4-80k_ade20k-512x512.py', 'r50', 'mmseg',
        {'model.pretrained': None, 'model.backbone.type': 'ResNet',
         'model.backbone.init_cfg': PRETRAINED}),
    'mmseg-upernet-swin-b': (
        'mmseg::swin/swin-base-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
        'swin-b', 'mmseg',
        {'model.backbone.init_cfg': PRETRAINED}),
    'mmdet-faster-rcnn-r50': (
        'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', 'r50', 'mmdet',
        {'model.backbone.init_cfg': PRETRAINED}),
    # mmdet has Swin-T/S Mask R-CNN configs: set Swin-B's widths, and no key conversion
    'mmdet-mask-rcnn-swin-b': (
        'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', 'swin-b', 'mmdet',
        {**{f'model.backbone.{k}': v for k, v in SWIN_B.items()},
         'model.backbone.convert_weights': False, 'model.backbone.init_cfg': PRETRAINED,
         'model.neck.in_channels': [128, 256, 512, 1024]}),
    'mmrotate-oriented-rcnn-r50': (
        'mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py', 'r50', 'mmdet',
        {'model.backbone.init_cfg': PRETRAINED}),
}


@pytest.fixture(scope='module')
def exports(tmp_path_factory):
    """(backbone, target) -> (exported file, exported weights without prefix), for the
    student of a real CMID ResNet-50 and Swin-B (teacher aliased: smaller files)."""
    folder = tmp_path_factory.mktemp('upstream')
    sources = {
        'r50': write_cmid_checkpoint(folder / 'cmid_r50.pth', 'resnet', teacher_offset=None,
                                     depth=50)[0],
        'swin-b': write_cmid_checkpoint(folder / 'cmid_swin-b.pth', 'swin',
                                        teacher_offset=None)[0],
    }
    out = {}
    for _, backbone, target, _ in CASES.values():
        if (backbone, target) not in out:
            path = folder / f'cmid_{backbone}_{target}.pth'
            out[backbone, target] = (path, export(sources[backbone], path, target))
    for src in sources.values():
        src.unlink()
    return out


def _apply(override: dict, checkpoint: str) -> dict:
    def fill(value):
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return checkpoint if value == CKPT else value
    return {k: fill(v) for k, v in override.items()}


def _nested(flat: dict) -> dict:
    """{'model.backbone.type': 'ResNet'} -> {'model': {'backbone': {'type': 'ResNet'}}}."""
    out: dict = {}
    for key, value in flat.items():
        *parents, leaf = key.split('.')
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return out


def _stock(path: str, tmp_path, override: dict | None = None) -> Config:
    """The stock config as a user inherits it: a leaf file ``_base_ = 'pkg::...'``
    followed by the override written as config code (the docs' form)."""
    leaf = tmp_path / 'leaf.py'
    text = f'_base_ = {path!r}\n'
    text += ''.join(f'{k} = {v!r}\n' for k, v in _nested(override or {}).items())
    leaf.write_text(text)
    return Config.fromfile(str(leaf))


def _cfg(case: str, checkpoint: str, tmp_path) -> Config:
    path, _, _, override = CASES[case]
    return _stock(path, tmp_path, _apply(override, checkpoint))


def _build(cfg: Config):
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmrotate':
        import mmrotate.models  # noqa: F401  (registers mmrotate's modules)
    return registry_of(cfg.default_scope).build(cfg.model)


@pytest.mark.parametrize('case', list(CASES))
def test_stock_config_takes_every_exported_weight(exports, case, tmp_path):
    _, backbone, target, _ = CASES[case]
    path, weights = exports[backbone, target]
    model = _build(_cfg(case, str(path), tmp_path))
    model.init_weights()
    got = model.backbone.state_dict()
    missing, unexpected = sorted(set(got) - set(weights)), sorted(set(weights) - set(got))
    assert not missing and not unexpected, (case, missing[:5], unexpected[:5])
    differ = [k for k in got if not torch.equal(got[k], weights[k])]
    assert not differ, (case, differ[:5])
    # and the no-silent-load check sees the same: every backbone tensor came from the file
    (report, ) = [r for r in check_pretrained_loaded(model, min_fraction=1.0)
                  if r.module == 'backbone']
    assert report.fraction == 1.0


def test_why_mmseg_r50_needs_the_swap(exports, tmp_path):
    """Without the override: the stock model-level pretrained collides with init_cfg;
    with pretrained=None but the stock ResNetV1c, the deep stem stays random."""
    path, _ = exports['r50', 'mmseg']
    cfg = _stock(CASES['mmseg-upernet-r50'][0], tmp_path)
    assert cfg.model.backbone.type == 'ResNetV1c'
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(path),
                                       prefix='backbone.')
    with pytest.raises(AssertionError, match='init_cfg and pretrained'):
        _build(cfg)
    init_default_scope('mmseg')
    v1c = registry_of('mmseg').build({**cfg.model.backbone, 'pretrained': None})
    v1c.init_weights()
    (report, ) = check_pretrained_loaded(v1c, min_fraction=0.5)
    assert sorted({k.split('.')[0] for k in report.not_loaded}) == ['stem']
    # 3 convs + 3 BNs (weight, bias, running mean and var): 15 tensors; all else loaded
    assert len(report.not_loaded) == 15
    floats = {k for k, v in v1c.state_dict().items() if v.is_floating_point()}
    assert set(report.loaded) == {k for k in floats if not k.startswith('stem.')}


def test_why_mmdet_swin_needs_convert_weights_off(exports, tmp_path):
    """The stock convert_weights=True expects the original Swin repository's keys."""
    path, _ = exports['swin-b', 'mmdet']
    cfg = _cfg('mmdet-mask-rcnn-swin-b', str(path), tmp_path)
    init_default_scope('mmdet')
    with pytest.raises(KeyError):
        registry_of('mmdet').build({**cfg.model.backbone, 'convert_weights': True}).init_weights()
