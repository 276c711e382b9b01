"""Importing cmid_mm registers every public module in the right registry."""
import importlib

import mmpretrain.registry as pre


def test_import_registers_pretraining_modules():
    importlib.import_module('cmid_mm')
    for name in ('CMID', 'CMIDResNet', 'CMIDSwinTransformer', 'CMIDDataPreprocessor',
                 'CMIDMIMHead', 'CMIDLocalHead', 'CMIDLocalLoss', 'FocalL1Loss',
                 'FocalFrequencyLoss', 'CMIDLinearDecoder'):
        assert pre.MODELS.get(name) is not None, name
    for name in ('CMIDMultiView', 'LoadRSImage', 'RSColorJitter', 'RSGaussianBlur',
                 'RSGaussNoise', 'RSSolarize', 'RSToGray'):
        assert pre.TRANSFORMS.get(name) is not None, name
    for name in ('LocalTeacherTempHook', 'KNNMonitorHook'):
        assert pre.HOOKS.get(name) is not None, name


def test_public_api_names():
    import cmid_mm.models as m
    for name in ('FocalL1Loss', 'FocalFrequencyLoss', 'CMIDMIMHead', 'CMIDLocalHead',
                 'CMIDLocalLoss', 'CMID', 'CMIDResNet', 'CMIDSwinTransformer', 'position_match'):
        assert hasattr(m, name), name
    from cmid_mm.models.utils import position_match  # noqa: F401
