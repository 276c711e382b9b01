"""Decode remote-sensing image files (8/16-bit, float, RGB or N-band) with clear errors.

PNG / JPEG / BMP through Pillow; GeoTIFF, JPEG 2000 and 16-bit colour PNG through
rasterio (GDAL). Every failure is a :class:`BadImageError` naming the file.
"""
from __future__ import annotations

import io
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import mmengine.fileio as fileio
import numpy as np
from PIL import Image, UnidentifiedImageError
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import MemoryFile

__all__ = ['BadImageError', 'imread_rs', 'decode_rs', 'expand_gray']

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


def _read_gdal(data: bytes, path: str, bands: Sequence[int] | None
               ) -> tuple[np.ndarray, list[float | None]]:
    """Decode with rasterio; drops bands whose colour interpretation is alpha.

    Returns:
        (H, W, C) array and the no-data value each kept band declares (or None).
    """
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
                return lut[src.read(indexes[0])], [None] * 3
            nodata = [src.nodatavals[i - 1] for i in indexes]
            return np.moveaxis(src.read(indexes), 0, -1), nodata  # (C, H, W) -> (H, W, C)
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


def decode_rs(path: str, bands: Sequence[int] | None, backend_args: dict | None
            ) -> tuple[np.ndarray, list[float | None]]:
    """Decode a file into an (H, W, C) array in file order (no gray -> RGB repeat).

    Returns:
        The array and each channel's declared no-data value (None when the
        format or band declares none).

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
        array, nodata = _read_gdal(data, path, bands)
    else:
        nodata = [None] * array.shape[-1]
    if array.ndim == 2:
        array = array[..., None]
    return array, nodata


def imread_rs(path: str,
              bands: Sequence[int] | None = None,
              keep_channels: bool = False,
              backend_args: dict | None = None) -> np.ndarray:
    """Read an image file into an (H, W, C) array, channels in file order.

    PNG / JPEG / BMP / ... are decoded with Pillow; TIFF, JPEG 2000 and 16-bit
    colour PNGs with rasterio (GDAL). The format is sniffed from the bytes, not
    the extension. Alpha is dropped (Pillow modes with alpha; GDAL bands whose
    colour interpretation is alpha); palettes are expanded to RGB. The dtype is
    the file's (uint8, uint16, int16, float32 ...); nothing is resized, and
    no-data values are returned as stored (see :class:`LoadRSImage` for the
    no-data rule).

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
    array, _ = decode_rs(path, bands, backend_args)
    return expand_gray(array, keep_channels)


def expand_gray(array: np.ndarray, keep_channels: bool) -> np.ndarray:
    """(H, W, 1) -> (H, W, 3) unless ``keep_channels``; contiguous (H, W, C) out."""
    if array.shape[-1] == 1 and not keep_channels:
        array = np.repeat(array, 3, axis=-1)
    return np.ascontiguousarray(array)
