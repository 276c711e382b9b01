"""Registry scope: our open-cd names live in mmseg's registries and never shadow open-cd's."""
from __future__ import annotations

import importlib.util

import pytest
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope, Registry
from mmseg.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS

PUBLIC = {
    MODELS: ['SiamEncoderDecoder', 'FeatureFusionNeck', 'BITHead',
             'DualInputSegDataPreProcessor'],
    TRANSFORMS: ['MultiImgLoadImageFromFile', 'MultiImgLoadAnnotations', 'MultiImgRandomCrop',
                 'MultiImgRandomFlip', 'MultiImgRandomRotFlip', 'MultiImgExchangeTime',
                 'MultiImgPhotoMetricDistortion', 'MultiImgResize', 'MultiImgPackSegInputs'],
    DATASETS: ['LEVIR_CD_Dataset', 'SVCD_Dataset'],
    METRICS: ['CDMetric'],
    HOOKS: ['CDVisualizationHook'],
}


def test_names_are_ours_in_mmseg_scope():
    for registry, names in PUBLIC.items():
        assert registry.scope == 'mmseg'
        for name in names:
            cls = registry.module_dict.get(name)
            assert cls is not None, name
            assert cls.__module__.startswith('cmid_mm.changedet'), (name, cls.__module__)
    # mmseg's own components are untouched
    assert MODELS.get('EncoderDecoder').__module__.startswith('mmseg.')
    assert TRANSFORMS.get('RandomFlip').__module__.startswith('mmseg.')


@pytest.mark.skipif(importlib.util.find_spec('opencd') is not None,
                    reason='real open-cd installed: its own registry is used instead')
def test_no_opencd_registry_is_created_and_a_real_one_would_win_in_its_scope():
    assert 'opencd' not in ROOT_MODELS.children  # importing cmid_mm made none
    # what open-cd 1.x does: a child registry of mmengine's root with scope 'opencd'
    opencd_models = Registry('model', parent=ROOT_MODELS, scope='opencd')
    try:
        @opencd_models.register_module(name='SiamEncoderDecoder')
        class OpenCDSiam:  # stand-in for open-cd's class
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        with DefaultScope.overwrite_default_scope('opencd'):
            assert type(opencd_models.build(dict(type='SiamEncoderDecoder'))) is OpenCDSiam
        with DefaultScope.overwrite_default_scope('mmseg'):
            assert MODELS.get('SiamEncoderDecoder').__module__.startswith('cmid_mm.')
        # explicit scope prefixes reach across: open-cd configs can use ours on purpose
        assert opencd_models.get('mmseg.FeatureFusionNeck') is MODELS.get('FeatureFusionNeck')
    finally:
        ROOT_MODELS.children.pop('opencd', None)


def test_registering_a_name_twice_fails_loudly():
    with pytest.raises(KeyError, match='already registered'):
        @MODELS.register_module(name='SiamEncoderDecoder')
        class Duplicate:  # noqa: F841 - never used
            pass
