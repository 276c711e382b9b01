"""The strong view's photometric ops on the batch (cmid_mm/models/utils/batch_photometric.py)
against the per-image ops (cmid_mm/datasets/transforms/photometric.py) on real tiles:
same parameters -> same images; same parameter distributions; bad configs refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import TRANSFORMS

from cmid_mm.models.utils.batch_photometric import BatchPhotometric, build_batch_op
from tests.helpers import REPO

RGB_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'
MSI_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py'


@pytest.fixture(scope='module')
def rgb_tiles() -> list[np.ndarray]:
    """6 real uint8 RGB tiles (128 px) from four scenes of the pretraining tiles."""
    from cmid_mm.rsdata import build_pretrain_tiles
    files = sorted((build_pretrain_tiles() / 'rgb').glob('*.png'))
    load = TRANSFORMS.build(dict(type='LoadRSImage'))
    return [load(dict(img_path=str(f)))['img'] for f in files[::len(files) // 6][:6]]


@pytest.fixture(scope='module')
def msi_files() -> list:
    from cmid_mm.rsdata import build_pretrain_tiles
    return sorted((build_pretrain_tiles() / 'msi').glob('*.tif'))[::8][:6]


@pytest.fixture(scope='module')
def msi_uint16(msi_files) -> list[np.ndarray]:
    """6 real 13-band uint16 L1C DN tiles, as the device-views configs' workers load them."""
    load = TRANSFORMS.build(dict(type='LoadRSImage', num_bands=13))
    return [load(dict(img_path=str(f)))['img'] for f in msi_files]


def _view_b(path) -> list[dict]:
    cfg = Config.fromfile(str(path))
    return [dict(t) for t in cfg.view_b]


def _dn(op: dict) -> dict:
    """An op config with its band statistics moved from reflectance to DN (x 10000)."""
    op = dict(op)
    for k in ('band_mean', 'band_std'):
        if k in op:
            op[k] = [v * 10000 for v in op[k]]
    return op


def _batched_and_per_image(ops: list[dict], imgs: list[np.ndarray],
                           image_dtype: torch.dtype, seed: int = 0):
    """Run the batched ops with sampled parameters, and the per-image ops with the same
    parameters (``image_params``) on each image; return both as (B, H, W, C) float64."""
    torch.manual_seed(seed)
    batch = BatchPhotometric(ops)
    x = torch.from_numpy(np.stack(imgs).astype(np.float32)).permute(0, 3, 1, 2).contiguous()
    if not image_dtype.is_floating_point:
        assert x.max() <= torch.iinfo(image_dtype).max
    params = batch.sample(x.shape, x.device)
    out = batch(x, image_dtype, params).permute(0, 2, 3, 1).double().numpy()
    ref = []
    for i, img in enumerate(imgs):
        y = img
        for op, p in zip(batch.ops, params):
            ip = op.image_params(p, i)
            if ip is not None:
                y = op.op.apply(y, ip)
        assert y.dtype == img.dtype
        ref.append(y.astype(np.float64))
    return out, np.stack(ref), params


def _assert_integer_close(out: np.ndarray, ref: np.ndarray) -> None:
    """Rounded outputs: equal except where float error crosses a .5 rounding boundary
    (then by exactly one level, at a few pixels in a million)."""
    diff = np.abs(out - ref)
    assert diff.max() <= 1.0
    assert (diff > 0).mean() < 1e-3


@pytest.mark.parametrize('op_type', ['RSColorJitter', 'RSGaussianBlur', 'RSGaussNoise',
                                     'RSSolarize', 'RSToGray'])
def test_each_rgb_op_equals_the_per_image_op(op_type, rgb_tiles):
    cfg = next(t for t in _view_b(RGB_CFG) if t['type'] == op_type)
    out, ref, params = _batched_and_per_image([{**cfg, 'prob': 1.0}], rgb_tiles, torch.uint8)
    assert params[0]['apply'].all()
    _assert_integer_close(out, ref)
    assert not np.array_equal(out, np.stack(rgb_tiles)), 'the op changed nothing'


def test_rgb_recipe_equals_the_per_image_recipe(rgb_tiles):
    """The shipped RGB strong view (with its probabilities) on real uint8 tiles."""
    for seed in range(3):
        out, ref, _ = _batched_and_per_image(_view_b(RGB_CFG), rgb_tiles, torch.uint8, seed)
        _assert_integer_close(out, ref)


def test_hue_rotation_matches_opencv(rgb_tiles):
    """The one op with a formula of its own: cv2's float RGB <-> HSV round trip."""
    op = {'type': 'RSColorJitter', 'brightness': 0., 'contrast': 0., 'saturation': 0.,
          'hue': 0.5, 'prob': 1.0}
    rgb01 = [t.astype(np.float32) / 255 for t in rgb_tiles]  # float: no rounding
    out, ref, params = _batched_and_per_image([op], rgb01, torch.float32)
    assert (params[0]['factor'][:, 3].abs() > 0.05).any()
    np.testing.assert_allclose(out, ref, atol=1e-5)
    assert np.abs(out - np.stack(rgb01)).mean() > 0.01


@pytest.mark.parametrize('op_type', ['RSColorJitter', 'RSGaussianBlur', 'RSGaussNoise',
                                     'RSSolarize'])
def test_each_13_band_op_equals_the_per_image_op_on_uint16(op_type, msi_uint16):
    """uint16 DN (white 65535, rounded after each op), band statistics on DN."""
    cfg = next(t for t in _view_b(MSI_CFG) if t['type'] == op_type)
    out, ref, _ = _batched_and_per_image([_dn({**cfg, 'prob': 1.0})], msi_uint16,
                                         torch.uint16)
    _assert_integer_close(out, ref)
    assert not np.array_equal(out, np.stack(msi_uint16).astype(np.float64))


def test_13_band_recipe_on_reflectance_equals_the_per_image_recipe(msi_uint16):
    """The shipped device path: uint16 / 10000 -> float reflectance, band-space ops."""
    refl = [(t.astype(np.float32) / np.float32(10000)) for t in msi_uint16]
    for seed in range(3):
        out, ref, params = _batched_and_per_image(_view_b(MSI_CFG), refl, torch.float32, seed)
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert out.shape[-1] == 13


def _per_image_params(op, img: np.ndarray, n: int) -> list[dict | None]:
    np.random.seed(0)
    return [op.sample(img) for _ in range(n)]


def test_parameter_distributions_match_the_per_image_ops(rgb_tiles):
    """Each op's probability and ranges, by sampling 4000 draws from both."""
    n = 4000
    img = rgb_tiles[0][:8, :8]
    torch.manual_seed(0)
    shape = torch.Size((n, 3, 8, 8))
    for cfg in _view_b(RGB_CFG):
        bop = build_batch_op(cfg, 'test')
        bp = bop.sample(shape, torch.device('cpu'))
        ip = _per_image_params(bop.op, img, n)
        rate_b, rate_i = bp['apply'].float().mean().item(), np.mean([p is not None for p in ip])
        tol = 4 * np.sqrt(cfg['prob'] * (1 - cfg['prob']) / n) + 1e-9
        assert abs(rate_b - cfg['prob']) <= tol and abs(rate_i - cfg['prob']) <= tol, cfg
        done = [p for p in ip if p is not None]
        if cfg['type'] == 'RSColorJitter':
            for t, (name, centre) in enumerate((('brightness', 1), ('contrast', 1),
                                                ('saturation', 1), ('hue', 0))):
                lo, hi = centre - cfg[name], centre + cfg[name]
                fb = bp['factor'][:, t].numpy()
                fi = np.array([p['factors'][t] for p in done])
                for f in (fb, fi):
                    assert lo <= f.min() and f.max() <= hi
                    assert f.min() < lo + 0.02 * (hi - lo) and f.max() > hi - 0.02 * (hi - lo)
                    assert abs(f.mean() - (lo + hi) / 2) < 0.02 * (hi - lo)
            # random order: every op at every position about a quarter of the time
            pos_b = np.stack([(bp['order'] == t).float().mean(0).numpy() for t in range(4)])
            pos_i = np.stack([np.mean([np.array(p['order']) == t for p in done], 0)
                              for t in range(4)])
            np.testing.assert_allclose(pos_b, 0.25, atol=0.03)
            np.testing.assert_allclose(pos_i, 0.25, atol=0.03)
        elif cfg['type'] == 'RSGaussianBlur':
            kb = bp['ksize'].numpy()
            ki = np.array([p['ksize'] for p in done])
            for k in (kb, ki):
                assert set(np.unique(k)) == {3, 5, 7}
                assert all(abs((k == v).mean() - 1 / 3) < 0.03 for v in (3, 5, 7))
            for s in (bp['sigma'].numpy(), np.array([p['sigma'] for p in done])):
                assert 0.1 <= s.min() < 0.15 and 1.95 < s.max() <= 2.0
                assert abs(s.mean() - 1.05) < 0.04
        elif cfg['type'] == 'RSGaussNoise':
            for v in (bp['var'].numpy(), np.array([p['var'] for p in done])):
                assert 10 <= v.min() < 11 and 49 < v.max() <= 50 and abs(v.mean() - 30) < 1
            unit_b = bp['noise'].numpy().ravel()
            unit_i = np.concatenate([p['noise'].ravel() for p in done[:200]])
            for u in (unit_b, unit_i):
                assert abs(u.mean()) < 0.02 and abs(u.std() - 1) < 0.02


def test_unknown_op_or_argument_is_refused_at_build():
    key = 'model.data_preprocessor.view_batch_augments[1]'
    with pytest.raises(ValueError, match=r"view_batch_augments\[1\]\[0\].*'RandomErasing' has "
                                         'no batched version'):
        BatchPhotometric([dict(type='RandomErasing')], key)
    with pytest.raises(ValueError, match=r'view_batch_augments\[1\]\[1\]: RSGaussNoise.*sigma'):
        BatchPhotometric([dict(type='RSSolarize'), dict(type='RSGaussNoise', sigma=3)], key)
    with pytest.raises(ValueError, match=r'\[0\]: RSGaussianBlur: kernel_range'):
        BatchPhotometric([dict(type='RSGaussianBlur', kernel_range=(2, 4))], key)


@pytest.mark.parametrize('kind', ['rgb', 'msi'])
def test_sync_free_and_indexed_selection_give_the_same_batch(kind, rgb_tiles, msi_uint16):
    """The GPU form (every sample computed, ``torch.where`` keeps the drawn ones) equals the
    CPU form (the drawn samples indexed) for the same parameters, on the shipped strong view
    with its probabilities (some samples skip each op), without a host sync."""
    from cmid_mm.utils.host_sync import HostSyncRecorder
    if kind == 'rgb':
        ops, imgs, dtype = _view_b(RGB_CFG), rgb_tiles, torch.uint8
    else:
        ops, imgs, dtype = _view_b(MSI_CFG), [t.astype(np.float32) / 10000 for t in msi_uint16],\
            torch.float32
    x = torch.from_numpy(np.stack(imgs).astype(np.float32)).permute(0, 3, 1, 2).contiguous()
    skipped = 0
    for seed in range(4):
        torch.manual_seed(seed)
        indexed, free = BatchPhotometric(ops, sync_free=False), BatchPhotometric(ops,
                                                                                 sync_free=True)
        params = indexed.sample(x.shape, x.device)
        skipped += sum(int((~p['apply']).sum()) for p in params)
        with HostSyncRecorder() as rec:
            y_free = free(x, dtype, params)
        assert rec.count == 0, rec.sites()
        torch.testing.assert_close(y_free, indexed(x, dtype, params), rtol=0, atol=1e-5)
    assert skipped > 0  # both forms met samples that an op skips
