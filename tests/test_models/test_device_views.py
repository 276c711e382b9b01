"""The device-views path of CMIDDataPreprocessor: uint16 kept until the device
(``uint16_scale``), the strong view's photometric ops batched (``view_batch_augments``),
and the shipped configs that use it, on real 13-band and RGB tiles."""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from tests.helpers import REPO, run_pipeline

CMID = REPO / 'configs/cmid'
MSI_CPU = CMID / 'cmid_resnet18_1xb32-adan-20e_s2-13band-128.py'
MSI_DEVICE = CMID / 'cmid_resnet50_4xb64-adan-200e_s2-13band.py'
RGB_DEVICE = CMID / 'cmid_resnet50_4xb64-adan-200e_millionaid.py'


@pytest.fixture(scope='module')
def msi_files() -> list:
    from cmid_mm.rsdata import build_pretrain_tiles
    return sorted((build_pretrain_tiles() / 'msi').glob('*.tif'))[:4]


def _batch(pipeline: list[dict], files, seed: int, size: int = 64) -> dict:
    """The pipeline at ``size`` px on ``files`` with ``np.random.seed(seed)``, collated."""
    return run_pipeline(copy.deepcopy(pipeline), files, size, seed)


def _preprocessor(cfg_path, **overrides):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(cfg_path))
    return MODELS.build({**cfg.model.data_preprocessor.to_dict(), **overrides}), cfg


def test_workers_keep_uint16_and_the_device_scales_as_the_workers_did(msi_files):
    """Device views: the worker batch is uint16 (2 bytes a value); after the preprocessor
    (no photometric ops) the views equal the per-image float path's within the uint16
    rounding of the crop resize, and crops, grids and masks are identical."""
    cfg = Config.fromfile(str(MSI_DEVICE))
    device = _batch(cfg.train_pipeline, msi_files, seed=3)
    assert device['inputs'][0].dtype == torch.uint16 and device['inputs'][0].shape[1] == 13
    worker_pipe = copy.deepcopy(cfg.train_pipeline)
    worker_pipe[0] = dict(type='LoadRSImage', num_bands=13, uint16_scale=10000,
                          to_float32=True)
    worker = _batch(worker_pipe, msi_files, seed=3)
    assert worker['inputs'][0].dtype == torch.float32
    pre, _ = _preprocessor(MSI_DEVICE, view_batch_augments=None)
    ref, _ = _preprocessor(MSI_DEVICE, view_batch_augments=None, uint16_scale=None)
    a = pre(device, training=True)['inputs']
    b = ref(worker, training=True)['inputs']
    for key in ('mask', 'grid'):
        for va, vb in zip(a[key], b[key]):
            torch.testing.assert_close(va, vb, rtol=0, atol=0)
    std = pre.std.view(1, -1, 1, 1)
    for va, vb in zip(a['img'], b['img']):
        # two uint16 resizes (to the training size, then the crop), each rounded to the
        # DN (the second interpolates the first's rounding): at most 1.5 DN apart
        err = (va - vb).abs() * std
        assert err.max() <= 1.5e-4 and err.mean() < 0.4e-4


def test_uint16_scale_applies_to_integers_above_8_bit_only():
    pre = MODELS.build(dict(type='CMIDDataPreprocessor', mean=[0.] * 13, std=[1.] * 13,
                            uint16_scale=10000))
    x16 = torch.full((1, 13, 4, 4), 5000, dtype=torch.uint16)
    assert torch.allclose(pre(dict(inputs=x16, data_samples=None))['inputs'],
                          torch.full((1, 13, 4, 4), 0.5))
    xf = torch.full((1, 13, 4, 4), 0.25)  # float reflectance (eval sets): left alone
    assert torch.allclose(pre(dict(inputs=xf, data_samples=None))['inputs'], xf)
    rgb = MODELS.build(dict(type='CMIDDataPreprocessor', mean=[0.] * 3, std=[1.] * 3,
                            uint16_scale=10000))
    x8 = torch.full((1, 3, 4, 4), 200, dtype=torch.uint8)
    assert torch.allclose(rgb(dict(inputs=x8, data_samples=None))['inputs'],
                          torch.full((1, 3, 4, 4), 200.))
    with pytest.raises(ValueError, match='uint16_scale must be a positive number'):
        MODELS.build(dict(type='CMIDDataPreprocessor', uint16_scale=0))


def test_only_the_strong_view_is_augmented_and_only_in_training(msi_files):
    cfg = Config.fromfile(str(MSI_DEVICE))
    pre, _ = _preprocessor(MSI_DEVICE)
    plain, _ = _preprocessor(MSI_DEVICE, view_batch_augments=None)
    batch = _batch(cfg.train_pipeline, msi_files, seed=0)
    torch.manual_seed(0)
    aug = pre(copy.deepcopy(batch), training=True)['inputs']
    ref = plain(copy.deepcopy(batch), training=True)['inputs']
    torch.testing.assert_close(aug['img'][0], ref['img'][0])  # view A: crop + flip only
    changed = (aug['img'][1] - ref['img'][1]).abs().amax(dim=(1, 2, 3))
    assert (changed > 0.05).all()  # blur (p = 1) moves every strong view
    for key in ('mask', 'grid'):
        for va, vb in zip(aug[key], ref[key]):
            torch.testing.assert_close(va, vb, rtol=0, atol=0)
    # the masked copies are made from the augmented view
    m = aug['mask'][1].float().repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1)
    keep = m == 0
    assert torch.equal(aug['masked_img'][1].expand_as(aug['img'][1])[keep.expand_as(
        aug['img'][1])], aug['img'][1][keep.expand_as(aug['img'][1])])
    # evaluation / feature extraction: no photometric op
    single = dict(inputs=batch['inputs'][1], data_samples=None)
    out = pre(copy.deepcopy(single), training=False)['inputs']
    torch.testing.assert_close(out, plain(copy.deepcopy(single))['inputs'])


def test_bad_view_batch_augments_are_refused_at_build():
    key = r'model\.data_preprocessor\.view_batch_augments'
    with pytest.raises(ValueError, match=key + r' must be one list of op configs per view'):
        MODELS.build(dict(type='CMIDDataPreprocessor',
                          view_batch_augments=dict(type='RSSolarize')))
    with pytest.raises(ValueError, match=key + r' must have one list per CMID view \(2\)'):
        MODELS.build(dict(type='CMIDDataPreprocessor', view_batch_augments=[[]]))
    with pytest.raises(ValueError, match=key + r"\[1\]\[0\]: 'PhotoMetricDistortion' has no "
                                               'batched version'):
        MODELS.build(dict(type='CMIDDataPreprocessor',
                          view_batch_augments=[[], [dict(type='PhotoMetricDistortion')]]))
    with pytest.raises(ValueError, match=key + r'\[1\]\[0\]: RSColorJitter: .*gamma'):
        MODELS.build(dict(type='CMIDDataPreprocessor',
                          view_batch_augments=[[], [dict(type='RSColorJitter', gamma=2)]]))


@pytest.mark.parametrize('path', [MSI_DEVICE, RGB_DEVICE])
def test_paper_configs_run_their_photometric_ops_on_the_device(path):
    """The GPU configs: the worker pipelines hold no photometric op, the data preprocessor
    holds the strong view's ops of the per-image base config, in the same order."""
    cfg = Config.fromfile(str(path))
    views = next(t for t in cfg.train_pipeline if t['type'] == 'CMIDMultiView')
    assert views['view_pipelines'] == [[], []]
    ops = cfg.model.data_preprocessor.view_batch_augments
    assert ops[0] == [] and [t['type'] for t in ops[1]] == [t['type'] for t in cfg.view_b]
    assert ops[1] == cfg.view_b
