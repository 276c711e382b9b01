"""Registry scope: our open-cd names live in mmseg's registries and never shadow open-cd's."""
from __future__ import annotations

import importlib.util

import pytest
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS, VISBACKENDS, VISUALIZERS

PUBLIC = {
    MODELS: ['SiamEncoderDecoder', 'DIEncoderDecoder', 'FeatureFusionNeck', 'BITHead', 'FC_EF',
             'FC_Siam_diff', 'FC_Siam_conc', 'SNUNet_ECAM', 'DualInputSegDataPreProcessor'],
    TRANSFORMS: ['MultiImgLoadImageFromFile', 'MultiImgLoadAnnotations', 'MultiImgRandomCrop',
                 'MultiImgRandomFlip', 'MultiImgRandomRotFlip', 'MultiImgRandomRotate',
                 'MultiImgExchangeTime', 'MultiImgPhotoMetricDistortion', 'MultiImgResize',
                 'MultiImgRandomResize', 'MultiImgPad', 'MultiImgNormalize',
                 'MultiImgPackSegInputs'],
    DATASETS: ['LEVIR_CD_Dataset', 'SVCD_Dataset', 'S2Looking_Dataset', 'WHU_CD_Dataset',
               'DSIFN_Dataset'],
    METRICS: ['CDMetric'],
    HOOKS: ['CDVisualizationHook'],
    VISUALIZERS: ['CDLocalVisualizer'],
    VISBACKENDS: ['CDLocalVisBackend'],
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
def test_our_opencd_scope_hangs_below_mmseg_and_adds_no_names():
    # open-cd 1.x puts its registries directly below mmengine's root; ours are
    # children of mmseg's registries, hold no class of their own and resolve
    # through mmseg (see test_opencd_scope.py for the behaviour with open-cd installed)
    assert 'opencd' not in ROOT_MODELS.children
    ours = MODELS.children['opencd']
    assert ours.scope == 'opencd' and ours.parent is MODELS
    assert len(ours.module_dict) == 0
    with DefaultScope.overwrite_default_scope('opencd'):
        assert ROOT_MODELS.build(dict(type='FeatureFusionNeck', policy='sum')).policy == 'sum'


def test_registering_a_name_twice_fails_loudly():
    with pytest.raises(KeyError, match='already registered'):
        @MODELS.register_module(name='SiamEncoderDecoder')
        class Duplicate:  # noqa: F841 - never used
            pass
