"""The ``opencd`` scope: ours when open-cd is absent, untouched when it is installed."""
from __future__ import annotations

import importlib
import sys

import pytest
from mmengine.registry import DATASETS as ROOT_DATASETS
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import TRANSFORMS as ROOT_TRANSFORMS
from mmengine.registry import VISBACKENDS as ROOT_VISBACKENDS
from mmengine.registry import VISUALIZERS as ROOT_VISUALIZERS
from mmengine.registry import DefaultScope, Registry
from mmseg.registry import HOOKS, METRICS, MODELS

from cmid_mm.changedet import opencd_scope
from cmid_mm.changedet.opencd_scope import (
    OPENCD_SCOPE,
    OpenCDComponentUnavailable,
    register_opencd_scope,
    unregister_opencd_scope,
)

if opencd_scope.opencd_installed():  # pragma: no cover - the real open-cd owns the scope
    pytest.skip('the real open-cd is installed: its own classes are used', allow_module_level=True)

# every open-cd name used by its BIT / FC-EF / FC-Siam / SNUNet configs and dataset bases
OPENCD_NAMES = {
    ROOT_MODELS: ['SiamEncoderDecoder', 'DIEncoderDecoder', 'FeatureFusionNeck', 'BITHead',
                  'FC_EF', 'FC_Siam_diff', 'FC_Siam_conc', 'SNUNet_ECAM',
                  'DualInputSegDataPreProcessor'],
    ROOT_TRANSFORMS: ['MultiImgLoadImageFromFile', 'MultiImgLoadAnnotations',
                      'MultiImgRandomRotate', 'MultiImgRandomCrop', 'MultiImgRandomFlip',
                      'MultiImgRandomResize', 'MultiImgResize', 'MultiImgPad',
                      'MultiImgNormalize', 'MultiImgPhotoMetricDistortion',
                      'MultiImgExchangeTime', 'MultiImgRandomRotFlip', 'MultiImgPackSegInputs'],
    ROOT_DATASETS: ['LEVIR_CD_Dataset', 'SVCD_Dataset', 'S2Looking_Dataset', 'WHU_CD_Dataset',
                    'DSIFN_Dataset'],
    ROOT_VISUALIZERS: ['CDLocalVisualizer'],
    ROOT_VISBACKENDS: ['CDLocalVisBackend'],
}


def _resolve(root: Registry, name: str):
    """What a config with ``default_scope='opencd'`` gets for ``type=name``."""
    with root.switch_scope_and_registry(OPENCD_SCOPE) as registry:
        assert registry.scope == OPENCD_SCOPE, (root.name, registry.scope)
        return registry.get(name)


@pytest.mark.parametrize('root', list(OPENCD_NAMES), ids=lambda r: r.name)
def test_opencd_names_resolve_to_ours(root):
    for name in OPENCD_NAMES[root]:
        cls = _resolve(root, name)
        assert cls is not None, name
        assert cls.__module__.startswith('cmid_mm.changedet'), (name, cls.__module__)


def test_opencd_scope_keeps_mmseg_and_mmengine_names():
    # open-cd configs reach mmseg by prefix and mmengine / mmcv by plain name
    assert _resolve(ROOT_MODELS, 'mmseg.ResNetV1c').__module__.startswith('mmseg.')
    assert _resolve(ROOT_MODELS, 'mmseg.FCNHead').__module__.startswith('mmseg.')
    assert _resolve(ROOT_MODELS, 'mmseg.CrossEntropyLoss').__module__.startswith('mmseg.')
    assert _resolve(ROOT_TRANSFORMS, 'TestTimeAug').__module__.startswith('mmcv.')
    assert _resolve(ROOT_DATASETS, 'RepeatDataset').__module__.startswith('mmengine.')
    assert _resolve(HOOKS.parent, 'CDVisualizationHook') is HOOKS.get('CDVisualizationHook')
    assert _resolve(METRICS.parent, 'mmseg.IoUMetric') is METRICS.get('IoUMetric')
    # an open-cd name we lack gets no stand-in from mmseg either
    assert _resolve(ROOT_MODELS, 'EncoderDecoder') is MODELS.get('EncoderDecoder')


@pytest.mark.parametrize('name', ['Changer', 'IA_ResNetV1c', 'TinyCD', 'IAEncoderDecoder'])
def test_unsupported_opencd_name_says_what_is_missing(name):
    with pytest.raises(OpenCDComponentUnavailable, match=f"'{name}'.*real open-cd"):
        _resolve(ROOT_MODELS, name)


def test_unsupported_name_inside_a_model_is_reported(mmseg_scope):
    cfg = dict(type='IAEncoderDecoder',
               backbone=dict(type='IA_ResNetV1c', depth=18),
               decode_head=dict(type='Changer', in_channels=[64], channels=8, num_classes=2))
    with DefaultScope.overwrite_default_scope(OPENCD_SCOPE):
        with pytest.raises(OpenCDComponentUnavailable) as err:
            ROOT_MODELS.build(cfg)
    assert 'IAEncoderDecoder' in str(err.value) and 'open-cd' in str(err.value)
    # nested: our SiamEncoderDecoder with an open-cd-only head names the head
    cfg = dict(type='SiamEncoderDecoder', backbone=dict(type='mmseg.ResNet', depth=18),
               neck=dict(type='FeatureFusionNeck', policy='concat'),
               decode_head=dict(type='Changer', in_channels=[64], channels=8, num_classes=2))
    with DefaultScope.overwrite_default_scope(OPENCD_SCOPE):
        with pytest.raises(OpenCDComponentUnavailable, match="'Changer'"):
            ROOT_MODELS.build(cfg)


def test_unknown_name_still_gives_mmengine_keyerror():
    with DefaultScope.overwrite_default_scope(OPENCD_SCOPE):
        with pytest.raises(KeyError, match='NoSuchHead') as err:
            ROOT_MODELS.build(dict(type='NoSuchHead'))
    assert not isinstance(err.value, OpenCDComponentUnavailable)


def test_register_is_idempotent():
    first = register_opencd_scope()
    assert first and register_opencd_scope() == first
    assert MODELS.children[OPENCD_SCOPE] in first


@pytest.fixture
def fake_opencd(tmp_path, monkeypatch):
    """A stand-in ``opencd`` package on sys.path, with open-cd 1.x's registry layout.

    Our scope is removed first, as if cmid_mm had been imported with open-cd
    installed; everything is restored afterwards.
    """
    pkg = tmp_path / 'opencd'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'registry.py').write_text(
        'from mmengine.registry import MODELS as ROOT, Registry\n'
        "MODELS = Registry('model', parent=ROOT, scope='opencd')\n"
        '@MODELS.register_module()\n'
        'class SiamEncoderDecoder:\n'
        '    def __init__(self, **kwargs):\n'
        '        self.kwargs = kwargs\n')
    unregister_opencd_scope()
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for name in ('opencd.registry', 'opencd'):
            sys.modules.pop(name, None)
        ROOT_MODELS.children.pop(OPENCD_SCOPE, None)
        monkeypatch.undo()
        importlib.invalidate_caches()
        register_opencd_scope()


def test_installed_opencd_is_never_shadowed(fake_opencd):
    assert opencd_scope.opencd_installed()
    assert register_opencd_scope() == []  # nothing of ours is added
    assert OPENCD_SCOPE not in MODELS.children
    # mmengine imports `opencd.registry` itself when it switches to the scope
    cls = _resolve(ROOT_MODELS, 'SiamEncoderDecoder')
    assert cls.__module__ == 'opencd.registry'
    # and our explanation of missing names stays out of open-cd's way
    assert _resolve(ROOT_MODELS, 'Changer') is None


def test_availability_check_gates_registration(monkeypatch):
    unregister_opencd_scope()
    try:
        monkeypatch.setattr(opencd_scope, 'opencd_installed', lambda: True)
        assert register_opencd_scope() == []
        assert OPENCD_SCOPE not in MODELS.children
        monkeypatch.setattr(opencd_scope, 'opencd_installed', lambda: False)
        assert register_opencd_scope()
        assert OPENCD_SCOPE in MODELS.children
    finally:
        monkeypatch.undo()
        register_opencd_scope()
