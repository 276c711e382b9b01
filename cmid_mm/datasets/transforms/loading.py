"""``LoadRSImage``: load remote-sensing images (8/16-bit, RGB or N-band) with clear errors.

A drop-in for ``LoadImageFromFile`` in mmpretrain and mmseg pipelines that
also reads GeoTIFF / JPEG 2000 (through rasterio / GDAL), 16-bit PNGs and
N-band rasters, that applies a documented no-data rule (NaN / Inf / declared
no-data values never pass silently), and that names the file and the problem
when an image is bad.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import MessageHub, print_log
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS

from .bad_image_record import record_bad_image
from .decode import BadImageError, decode_rs, expand_gray, imread_rs
from .nodata import describe_invalid, fill_invalid, invalid_mask

__all__ = ['BadImageError', 'imread_rs', 'LoadRSImage']


@PRETRAIN_TRANSFORMS.register_module()
@SEG_TRANSFORMS.register_module()
class LoadRSImage(BaseTransform):
    """Load a remote-sensing image from ``results['img_path']``.

    Drop-in for mmcv/mmpretrain/mmseg ``LoadImageFromFile``; see
    :func:`imread_rs` for formats. Unlike ``LoadImageFromFile`` (BGR via
    OpenCV) the default output is **RGB** (channels in file order), so configs
    using it set ``to_rgb=False`` in the data preprocessor. N-band images keep
    their band order (``channel_order`` only applies to 3-channel output).

    **No-data rule.** A value is no-data when it is NaN or +-Inf, or equals
    its band's no-data value (``nodata_value``). Such an image is refused with
    a :class:`BadImageError` that names the file and counts the pixels
    (``nodata='raise'``, default), or every no-data value is replaced by the
    mean of the valid values of its band (``nodata='mean'``; a band without
    any valid value is refused) or by a constant (``nodata=0.``). The rule
    runs on the stored values, before ``uint16_scale``; no NaN/Inf ever
    leaves this transform.

    Required keys: ``img_path``. Added keys: ``img`` (H, W, C), ``img_shape``
    and ``ori_shape`` ((H, W)).

    Args:
        to_float32: return float32 (otherwise the file's dtype, e.g. uint8 or uint16).
        bands: 1-based band indices to read (e.g. ``[4, 3, 2]``), None = all.
        num_bands: the band count the model expects (e.g. 13 for a 13-band
            Sentinel-2 config), None = not checked. An image that yields
            another count (after ``bands`` and alpha removal, before the
            gray-to-3 repeat) is refused with a :class:`BadImageError` naming
            the file, the expected and the found count; with ``bands`` it
            must equal ``len(bands)``.
        channel_order: 'rgb' (file order) or 'bgr' (reverse a 3-channel image).
        uint16_scale: mapping of images deeper than 8 bits (integer dtypes
            other than uint8): 'none' / None keeps the values, a number
            divides by it and returns float32 (e.g. 10000 for Sentinel-2
            reflectance, 257 to map 0..65535 to 0..255, 65535 to map to 0..1).
        keep_channels: keep single-channel images as (H, W, 1) instead of
            repeating them to 3 channels.
        nodata: 'raise', 'mean' or a finite number (see the no-data rule).
        nodata_value: 'file' (the value each band declares in the file, e.g.
            a GeoTIFF's GDAL ``nodata`` tag; none for PNG/JPEG), None (only
            NaN/Inf are no-data) or a number used for every band.
        skip_bad_images: on a :class:`BadImageError` (including a refused
            no-data image), log a warning, count it and return None, so that
            mmengine's ``BaseDataset`` fetches another random index (up to
            ``max_refetch`` = 1000 times; in ``test_mode`` a None is an
            error). The count is per process in ``LoadRSImage.num_skipped``
            (also ``MessageHub.update_info('skipped_images', n)``); when a
            :class:`~cmid_mm.engine.hooks.BadImageCountHook` runs, the file
            is also recorded for it, and the hook logs the count of every
            epoch summed over dataloader workers and ranks. With False
            (default) the error is raised.
        backend_args: ``mmengine.fileio`` backend arguments.
    """

    num_skipped: int = 0

    def __init__(self,
                 to_float32: bool = False,
                 bands: Sequence[int] | None = None,
                 num_bands: int | None = None,
                 channel_order: str = 'rgb',
                 uint16_scale: str | float | None = 'none',
                 keep_channels: bool = False,
                 nodata: str | float = 'raise',
                 nodata_value: str | float | None = 'file',
                 skip_bad_images: bool = False,
                 backend_args: dict | None = None) -> None:
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(f"LoadRSImage: channel_order must be 'rgb' or 'bgr', "
                             f'got {channel_order!r}')
        if isinstance(uint16_scale, str):
            if uint16_scale.lower() != 'none':
                raise ValueError("LoadRSImage: uint16_scale must be 'none', None or a positive "
                                 f'number, got {uint16_scale!r}')
            uint16_scale = None
        elif uint16_scale is not None and not float(uint16_scale) > 0:
            raise ValueError(f'LoadRSImage: uint16_scale must be positive, got {uint16_scale}')
        if bands is not None and (not len(bands) or min(int(b) for b in bands) < 1):
            raise ValueError(f'LoadRSImage: bands are 1-based indices, got {bands}')
        if num_bands is not None and (not _is_number(num_bands) or int(num_bands) != num_bands
                                      or num_bands < 1):
            raise ValueError(f'LoadRSImage: num_bands must be a positive integer, got '
                             f'{num_bands!r}')
        if num_bands is not None and bands is not None and len(bands) != num_bands:
            raise ValueError(f'LoadRSImage: num_bands={num_bands} but bands={list(bands)} '
                             f'selects {len(bands)} band(s)')
        self.num_bands = None if num_bands is None else int(num_bands)
        self.nodata = _check_nodata(nodata)
        if not (nodata_value in ('file', None) or _is_number(nodata_value)):
            raise ValueError("LoadRSImage: nodata_value must be 'file', None or a number, "
                             f'got {nodata_value!r}')
        self.to_float32 = to_float32
        self.bands = None if bands is None else [int(b) for b in bands]
        self.channel_order = channel_order
        self.uint16_scale = None if uint16_scale is None else float(uint16_scale)
        self.keep_channels = keep_channels
        self.nodata_value = nodata_value if nodata_value in ('file', None) \
            else float(nodata_value)
        self.skip_bad_images = skip_bad_images
        self.backend_args = None if backend_args is None else dict(backend_args)

    def _read(self, path: str) -> np.ndarray:
        """Decode ``path`` and apply the no-data rule; (H, W, C) in file order."""
        img, declared = decode_rs(path, self.bands, self.backend_args)
        found = 1 if img.ndim == 2 else img.shape[-1]
        if self.num_bands is not None and found != self.num_bands:
            raise BadImageError(path, f'expected {self.num_bands} band(s) (LoadRSImage '
                                      f'num_bands={self.num_bands}), found {found}')
        if self.nodata_value != 'file':
            declared = [self.nodata_value] * img.shape[-1]
        bad = invalid_mask(img, declared)
        if bad.any():
            if self.nodata == 'raise':
                raise BadImageError(path, describe_invalid(img, bad, declared) + (
                    "; LoadRSImage(nodata='mean') fills them with the band mean of the valid "
                    'pixels, nodata=<number> with a constant'))
            img, empty = fill_invalid(img, bad, self.nodata)
            if empty:
                raise BadImageError(path, f'band(s) {empty} hold no valid pixel (all NaN, Inf '
                                          'or no-data): there is no mean to fill them with')
        return expand_gray(img, self.keep_channels)

    def transform(self, results: dict) -> dict | None:
        """Read ``results['img_path']``; None if it is bad and ``skip_bad_images``."""
        path = results['img_path']
        try:
            img = self._read(path)
        except BadImageError as err:
            if not self.skip_bad_images:
                raise
            LoadRSImage.num_skipped += 1
            MessageHub.get_current_instance().update_info('skipped_images',
                                                          LoadRSImage.num_skipped)
            record_bad_image(err.path, err.problem)
            print_log(f'LoadRSImage: skipped bad image {err} '
                      f'({LoadRSImage.num_skipped} skipped in this process)',
                      logger='current', level=logging.WARNING)
            return None
        if self.channel_order == 'bgr' and img.shape[-1] == 3:
            img = np.ascontiguousarray(img[..., ::-1])
        if (self.uint16_scale is not None and img.dtype.kind in 'iu'
                and img.dtype != np.uint8):
            img = img.astype(np.float32) / np.float32(self.uint16_scale)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, bands={self.bands}, '
                f'num_bands={self.num_bands}, '
                f"channel_order='{self.channel_order}', uint16_scale={self.uint16_scale}, "
                f'keep_channels={self.keep_channels}, nodata={self.nodata!r}, '
                f'nodata_value={self.nodata_value!r}, skip_bad_images={self.skip_bad_images}, '
                f'backend_args={self.backend_args})')


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_nodata(nodata: str | float) -> str | float:
    if nodata in ('raise', 'mean'):
        return nodata
    if _is_number(nodata) and np.isfinite(nodata):
        return float(nodata)
    raise ValueError("LoadRSImage: nodata must be 'raise', 'mean' or a finite number, "
                     f'got {nodata!r}')
