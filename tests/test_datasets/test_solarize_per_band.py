"""RSSolarize per band (cmid_mm/datasets/transforms/photometric.py) on real 13-band
Sentinel-2 reflectance tiles, with the 13-band configs' band statistics."""
from __future__ import annotations

import numpy as np
import pytest
from mmengine.config import Config

from cmid_mm.datasets.transforms import LoadRSImage, RSSolarize
from tests.helpers import REPO

STATS = REPO / 'configs/cmid/_base_/datasets/s2_13band_stats.py'


@pytest.fixture(scope='module')
def tile() -> np.ndarray:
    """(128, 128, 13) float32 reflectance of a real tile, as the 13-band configs load it."""
    from cmid_mm.rsdata import build_pretrain_tiles
    path = sorted((build_pretrain_tiles() / 'msi').glob('*.tif'))[10]
    load = LoadRSImage(num_bands=13, uint16_scale=10000, to_float32=True)
    return load(dict(img_path=str(path)))['img']


@pytest.fixture(scope='module')
def stats() -> tuple[list[float], list[float]]:
    cfg = Config.fromfile(str(STATS))
    return cfg.band_mean, cfg.band_std


@pytest.mark.parametrize('threshold,num_std', [(0.5, 2.), (0.7, 1.5)])
def test_each_band_is_mirrored_within_its_own_range(tile, stats, threshold, num_std):
    mean, std = stats
    op = RSSolarize(prob=1., threshold=threshold, band_mean=mean, band_std=std,
                    num_std=num_std)
    out = op(dict(img=tile.copy()))['img']
    assert out.dtype == tile.dtype and out.shape == tile.shape
    for b in range(13):
        lo, hi = mean[b] - num_std * std[b], mean[b] + num_std * std[b]
        x, y = tile[..., b], out[..., b]
        up = x >= lo + threshold * (hi - lo)  # threshold 0.5: the band mean
        np.testing.assert_array_equal(y[~up], x[~up])
        np.testing.assert_allclose(y[up], np.clip(lo + hi - x[up], 0, 1), rtol=1e-5, atol=1e-7)
        # every band has inverted and kept pixels, and what was inside its range
        # stays inside it
        assert 0.05 < up.mean() < 0.99 or threshold != 0.5, (b, up.mean())
        inside = (x >= lo) & (x <= hi)
        assert (y[inside] >= lo - 1e-6).all() and (y[inside] <= hi + 1e-6).all()


def test_one_threshold_on_reflectance_inverts_almost_nothing(tile, stats):
    """Why the per-band range: 0.5 x white hits < 1 % of the pixels of this tile."""
    changed = RSSolarize(prob=1.)(dict(img=tile.copy()))['img'] != tile
    assert changed.mean() < 0.01
    mean, std = stats
    per_band = RSSolarize(prob=1., band_mean=mean, band_std=std)(dict(img=tile.copy()))['img']
    assert (per_band != tile).mean() > 0.2


def test_rgb_behaviour_without_statistics_is_unchanged():
    img = np.array([[[10, 200, 30]]], dtype=np.uint8)
    assert RSSolarize(prob=1.)(dict(img=img))['img'].tolist() == [[[10, 55, 30]]]
    # [0, 255] given as statistics (mean 127.5, std 63.75, 2 std) is the same op
    same = RSSolarize(prob=1., band_mean=[127.5] * 3, band_std=[63.75] * 3)
    assert same(dict(img=img))['img'].tolist() == [[[10, 55, 30]]]


def test_band_count_and_argument_errors(tile, stats):
    mean, std = stats
    op = RSSolarize(prob=1., band_mean=mean, band_std=std)
    with pytest.raises(ValueError, match=r'RSSolarize: the image has 3 band\(s\) but '
                                         r'band_mean / band_std have 13 value\(s\)'):
        op(dict(img=tile[..., :3].copy()))
    with pytest.raises(ValueError, match='give both band_mean and band_std'):
        RSSolarize(band_mean=mean)
    with pytest.raises(ValueError, match=r'band_mean has 13 value\(s\) but band_std has 12'):
        RSSolarize(band_mean=mean, band_std=std[:12])
    with pytest.raises(ValueError, match='RSSolarize: band_std'):
        RSSolarize(band_mean=[0.1], band_std=[0.])
    with pytest.raises(ValueError, match='RSSolarize: num_std'):
        RSSolarize(num_std=0)


def test_builds_from_a_config_dict(stats):
    from mmpretrain.registry import TRANSFORMS
    mean, std = stats
    op = TRANSFORMS.build(dict(type='RSSolarize', prob=0.2, band_mean=mean, band_std=std))
    assert isinstance(op, RSSolarize) and op.band_range.band_mean == pytest.approx(mean)
