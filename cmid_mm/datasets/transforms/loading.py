"""``LoadRSImage``: load remote-sensing images (8/16-bit, RGB or N-band) with clear errors.

A drop-in for ``LoadImageFromFile`` in mmpretrain and mmseg pipelines that
also reads GeoTIFF / JPEG 2000 (through rasterio / GDAL), 16-bit PNGs and
N-band rasters, and that names the file and the problem when an image is bad.
"""
from __future__ import annotations

import io
import logging
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import MessageHub, print_log
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS
from PIL import Image, UnidentifiedImageError
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import MemoryFile

__all__ = ['BadImageError', 'imread_rs', 'LoadRSImage']

_TIFF_MAGIC = (b'II*\x00', b'MM\x00*', b'II+\x00', b'MM\x00+')
_JP2_MAGIC = (b'\x00\x00\x00\x0cjP  \r\n\x87\n', b'\xff\x4f\xff\x51')
_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


class BadImageError(ValueError):
    """An image file that cannot be decoded (missing, empty, corrupt, not an image...)."""

    def __init__(self, path: str, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f'{path}: {problem}')


def _uses_gdal(data: bytes) -> bool:
    """TIFF / JPEG 2000, and 16-bit colour PNG (Pillow would cut that to 8 bits)."""
    if data.startswith(_TIFF_MAGIC) or data.startswith(_JP2_MAGIC):
        return True
    # PNG IHDR: bytes 24 = bit depth, 25 = colour type (2 RGB, 6 RGBA)
    return (data.startswith(_PNG_MAGIC) and data[12:16] == b'IHDR' and len(data) > 25
            and data[24] == 16 and data[25] in (2, 6))


def _read_gdal(data: bytes, path: str, bands: Sequence[int] | None) -> np.ndarray:
    """Decode with rasterio; drops bands whose colour interpretation is alpha."""
    mem = MemoryFile(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            src = mem.open()
        with src:
            if bands is None:
                indexes = [i for i, ci in enumerate(src.colorinterp, start=1)
                           if ci != ColorInterp.alpha] or list(range(1, src.count + 1))
            else:
                indexes = _check_bands(bands, src.count, path)
            if (bands is None and len(indexes) == 1
                    and src.colorinterp[indexes[0] - 1] == ColorInterp.palette):
                lut = np.zeros((256, 3), dtype=np.uint8)
                for k, rgba in src.colormap(indexes[0]).items():
                    if 0 <= k < 256:
                        lut[k] = rgba[:3]
                return lut[src.read(indexes[0])]
            return np.moveaxis(src.read(indexes), 0, -1)  # (C, H, W) -> (H, W, C)
    except RasterioError as err:
        detail = f'{err} ({err.__cause__})' if err.__cause__ else str(err)
        detail = detail.replace(f'{mem.name}: ', '').replace(f'{Path(mem.name).name}: ', '')
        raise BadImageError(path, f'corrupt, truncated or unsupported raster: {detail}') \
            from err
    finally:
        mem.close()


def _read_pil(data: bytes, path: str) -> np.ndarray | None:
    """Decode with Pillow; None when Pillow refuses the size (caller falls back to GDAL)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            img.load()
    except Image.DecompressionBombError:
        return None
    except UnidentifiedImageError as err:
        raise BadImageError(path, f'not a recognised image format (starts with {data[:8]!r})') \
            from err
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as err:
        raise BadImageError(path, f'corrupt or truncated image: {err}') from err
    mode = img.mode
    if mode in ('RGBA', 'RGBa', 'LA', 'La', 'PA'):  # drop alpha
        img = img.convert('RGB' if mode in ('RGBA', 'RGBa', 'PA') else 'L')
    elif mode == 'P':
        img = img.convert('RGBA' if 'transparency' in img.info else 'RGB').convert('RGB')
    elif mode == '1':
        img = img.convert('L')
    elif mode in ('CMYK', 'YCbCr'):
        img = img.convert('RGB')
    array = np.asarray(img)
    if not array.dtype.isnative:  # e.g. big-endian 16-bit ('I;16B')
        array = array.astype(array.dtype.newbyteorder('='))
    if mode == 'I' and array.size and array.min() >= 0 and array.max() <= 65535:
        array = array.astype(np.uint16)  # 16-bit grey PNG read as int32 by some Pillow versions
    return array


def _check_bands(bands: Sequence[int], count: int, path: str) -> list[int]:
    bands = [int(b) for b in bands]
    if not bands or min(bands) < 1 or max(bands) > count:
        raise BadImageError(path, f'bands={bands} (1-based) asked for, but the image has '
                                  f'{count} band(s)')
    return bands


def imread_rs(path: str,
              bands: Sequence[int] | None = None,
              keep_channels: bool = False,
              backend_args: dict | None = None) -> np.ndarray:
    """Read an image file into an (H, W, C) array, channels in file order.

    PNG / JPEG / BMP / ... are decoded with Pillow; TIFF, JPEG 2000 and 16-bit
    colour PNGs with rasterio (GDAL). The format is sniffed from the bytes, not
    the extension. Alpha is dropped (Pillow modes with alpha; GDAL bands whose
    colour interpretation is alpha); palettes are expanded to RGB. The dtype is
    the file's (uint8, uint16, int16, float32 ...); nothing is resized.

    Args:
        path: file path or URI understood by ``mmengine.fileio``.
        bands: 1-based band (channel) indices to keep, in this order.
        keep_channels: when False, a single-channel result is repeated to 3
            channels (grayscale -> RGB); when True it stays (H, W, 1).
        backend_args: ``mmengine.fileio`` backend arguments.

    Returns:
        (H, W, C) numpy array.

    Raises:
        BadImageError: missing, empty, corrupt or truncated file, or not an image.
    """
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise BadImageError(path, 'file not found') from err
    except OSError as err:  # a directory, no permission, ...
        raise BadImageError(path, f'cannot read the file: {err}') from err
    if len(data) == 0:
        raise BadImageError(path, 'empty file (0 bytes)')
    array = None
    if not _uses_gdal(data):
        array = _read_pil(data, path)
        if array is not None and array.ndim == 2:
            array = array[..., None]
        if array is not None and bands is not None:
            array = array[..., [b - 1 for b in _check_bands(bands, array.shape[-1], path)]]
    if array is None:  # GDAL formats, or an image too large for Pillow's bomb check
        array = _read_gdal(data, path, bands)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1 and not keep_channels:
        array = np.repeat(array, 3, axis=-1)
    return np.ascontiguousarray(array)


@PRETRAIN_TRANSFORMS.register_module()
@SEG_TRANSFORMS.register_module()
class LoadRSImage(BaseTransform):
    """Load a remote-sensing image from ``results['img_path']``.

    Drop-in for mmcv/mmpretrain/mmseg ``LoadImageFromFile``; see
    :func:`imread_rs` for formats. Unlike ``LoadImageFromFile`` (BGR via
    OpenCV) the default output is **RGB** (channels in file order), so configs
    using it set ``to_rgb=False`` in the data preprocessor. N-band images keep
    their band order (``channel_order`` only applies to 3-channel output).

    Required keys: ``img_path``. Added keys: ``img`` (H, W, C), ``img_shape``
    and ``ori_shape`` ((H, W)).

    Args:
        to_float32: return float32 (otherwise the file's dtype, e.g. uint8 or uint16).
        bands: 1-based band indices to read (e.g. ``[4, 3, 2]``), None = all.
        channel_order: 'rgb' (file order) or 'bgr' (reverse a 3-channel image).
        uint16_scale: mapping of images deeper than 8 bits (integer dtypes
            other than uint8): 'none' / None keeps the values, a number
            divides by it and returns float32 (e.g. 10000 for Sentinel-2
            reflectance, 257 to map 0..65535 to 0..255, 65535 to map to 0..1).
        keep_channels: keep single-channel images as (H, W, 1) instead of
            repeating them to 3 channels.
        skip_bad_images: on a :class:`BadImageError`, log a warning, count it
            in ``LoadRSImage.num_skipped`` (per process; also
            ``MessageHub.update_info('skipped_images', n)``) and return None,
            so that mmengine's ``BaseDataset`` fetches another random index
            (up to ``max_refetch`` = 1000 times; in ``test_mode`` a None is an
            error). With False (default) the error is raised.
        backend_args: ``mmengine.fileio`` backend arguments.
    """

    num_skipped: int = 0

    def __init__(self,
                 to_float32: bool = False,
                 bands: Sequence[int] | None = None,
                 channel_order: str = 'rgb',
                 uint16_scale: str | float | None = 'none',
                 keep_channels: bool = False,
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
        self.to_float32 = to_float32
        self.bands = None if bands is None else [int(b) for b in bands]
        self.channel_order = channel_order
        self.uint16_scale = None if uint16_scale is None else float(uint16_scale)
        self.keep_channels = keep_channels
        self.skip_bad_images = skip_bad_images
        self.backend_args = None if backend_args is None else dict(backend_args)

    def transform(self, results: dict) -> dict | None:
        """Read ``results['img_path']``; None if it is bad and ``skip_bad_images``."""
        path = results['img_path']
        try:
            img = imread_rs(path, bands=self.bands, keep_channels=self.keep_channels,
                            backend_args=self.backend_args)
        except BadImageError as err:
            if not self.skip_bad_images:
                raise
            LoadRSImage.num_skipped += 1
            MessageHub.get_current_instance().update_info('skipped_images',
                                                          LoadRSImage.num_skipped)
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
                f"channel_order='{self.channel_order}', uint16_scale={self.uint16_scale}, "
                f'keep_channels={self.keep_channels}, skip_bad_images={self.skip_bad_images}, '
                f'backend_args={self.backend_args})')
