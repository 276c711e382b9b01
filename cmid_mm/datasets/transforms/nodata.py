"""No-data pixels of a loaded raster: which values are invalid, and the fill rule.

A value is **invalid** when it is NaN or +-Inf (float rasters), or equals the
no-data value of its band (declared in the file, e.g. a GeoTIFF's GDAL
``nodata`` tag, or given by the user). :class:`~.loading.LoadRSImage` either
refuses such an image (``nodata='raise'``, the default) or fills every
invalid value with the mean of the valid values of the same band
(``nodata='mean'``) or with a constant (``nodata=<number>``).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ['invalid_mask', 'describe_invalid', 'fill_invalid']


def invalid_mask(img: np.ndarray, nodata: Sequence[float | None]) -> np.ndarray:
    """Which values of an image are no-data.

    Args:
        img: (H, W, C) array of any dtype.
        nodata: per-channel no-data value (length C; None = no declared value).

    Returns:
        (H, W, C) bool mask, True where the value is NaN, +-Inf or the channel's
        no-data value.
    """
    if img.dtype.kind in 'fc':
        bad = ~np.isfinite(img)
    else:
        bad = np.zeros(img.shape, dtype=bool)
    for c, value in enumerate(nodata):
        if value is None:
            continue
        if np.isnan(value):
            continue  # NaN as the declared value: already caught by isfinite
        bad[..., c] |= img[..., c] == value
    return bad


def describe_invalid(img: np.ndarray, bad: np.ndarray, nodata: Sequence[float | None]) -> str:
    """Human-readable count of the invalid values of ``img`` ((H, W, C), mask ``bad``)."""
    pixels = int(bad.any(axis=-1).sum())
    total = bad.shape[0] * bad.shape[1]
    kinds = []
    if img.dtype.kind in 'fc':
        n_nan, n_inf = int(np.isnan(img).sum()), int(np.isinf(img).sum())
        kinds += [f'{n_nan} NaN'] if n_nan else []
        kinds += [f'{n_inf} Inf'] if n_inf else []
    declared = sorted({v for v in nodata if v is not None and not np.isnan(v)})
    for value in declared:
        n = int(sum((img[..., c] == value).sum() for c, v in enumerate(nodata) if v == value))
        if n:
            kinds.append(f'{n} equal to the no-data value {value:g}')
    bands = [c + 1 for c in range(bad.shape[-1]) if bad[..., c].any()]
    return (f'{pixels} of {total} pixels hold no-data values ({", ".join(kinds)}) '
            f'in band(s) {bands}')


def fill_invalid(img: np.ndarray, bad: np.ndarray, fill: str | float) -> tuple[np.ndarray,
                                                                                  list[int]]:
    """Replace the invalid values of an image, band by band.

    Args:
        img: (H, W, C) array.
        bad: (H, W, C) bool mask from :func:`invalid_mask`.
        fill: ``'mean'`` (mean of the valid values of the same band, rounded
            for integer dtypes) or a number.

    Returns:
        The filled (H, W, C) array (same dtype; a copy when anything was
        filled) and the 1-based bands that have no valid value at all (these
        are left unfilled when ``fill='mean'``: the caller must refuse them).
    """
    if not bad.any():
        return img, []
    out = img.copy()
    empty = []
    for c in range(img.shape[-1]):
        mask = bad[..., c]
        if not mask.any():
            continue
        if fill == 'mean':
            if mask.all():
                empty.append(c + 1)
                continue
            value = img[..., c][~mask].astype(np.float64).mean()
        else:
            value = float(fill)
        if img.dtype.kind in 'iu':
            info = np.iinfo(img.dtype)
            value = np.clip(np.rint(value), info.min, info.max)
        out[..., c][mask] = value
    return out, empty
