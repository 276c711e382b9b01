"""Per-band normalisation statistics of a tile corpus, written as a config snippet.

Usage::

    python tools/analysis_tools/band_stats.py DIR [--pattern '*.tif'] \\
        [--uint16-scale 10000] [--bands 1 2 ...] [--nodata mean] [--out snippet.py]

Every file of ``DIR`` matching ``--pattern`` (recursive) is read with the
pipeline's own loader, ``LoadRSImage(bands=..., uint16_scale=..., nodata=...,
to_float32=True)`` (so the numbers are on the scale the data preprocessor
sees, after the config's no-data rule: give ``--nodata`` the config's
``LoadRSImage`` ``nodata``; the default ``raise`` refuses files with no-data
values), and the mean and the standard deviation of every band over all pixels
of all files are accumulated in float64. The result is printed (and written to
``--out``) as a config snippet::

    # python tools/analysis_tools/band_stats.py ... (64 files, 1048576 pixels)
    band_mean = [...]
    band_std = [...]

to paste into a config's ``model.data_preprocessor`` (``mean=band_mean,
std=band_std``) together with its command line.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cmid_mm.datasets.transforms.loading import LoadRSImage


def band_stats(files: Sequence[str | Path], bands: Sequence[int] | None = None,
               uint16_scale: float | None = None, nodata: str | float = 'raise'
               ) -> tuple[list[float], list[float], int]:
    """Mean and (population) standard deviation of every band over all pixels.

    ``nodata`` is ``LoadRSImage``'s no-data rule (``'raise'``, ``'mean'`` or a
    number): the statistics are those of the images the pipeline produces.

    Returns:
        ``(mean, std, n_pixels)``; ``mean`` and ``std`` have one value per band.

    Raises:
        ValueError: no files, or files with different band counts (naming them).
    """
    if not files:
        raise ValueError('band_stats: no files to read')
    load = LoadRSImage(to_float32=True, bands=bands, keep_channels=True,
                       uint16_scale='none' if uint16_scale is None else uint16_scale,
                       nodata=nodata)
    total = sq = None
    count, first = 0, None
    for f in files:
        img = load(dict(img_path=str(f)))['img'].astype(np.float64)  # (H, W, C)
        x = img.reshape(-1, img.shape[-1])
        if total is None:
            total, sq, first = np.zeros(x.shape[1]), np.zeros(x.shape[1]), (f, x.shape[1])
        elif x.shape[1] != total.shape[0]:
            raise ValueError(f'band_stats: {f} has {x.shape[1]} band(s) but {first[0]} has '
                             f'{first[1]}')
        total += x.sum(0)
        sq += (x * x).sum(0)
        count += x.shape[0]
    mean = total / count
    std = np.sqrt(np.maximum(sq / count - mean * mean, 0.))
    return mean.tolist(), std.tolist(), count


def snippet(mean: Sequence[float], std: Sequence[float], command: str, n_files: int,
            n_pixels: int, digits: int = 6) -> str:
    """The config text: the command as a comment, then ``band_mean`` / ``band_std``."""
    def fmt(values):
        return '[' + ', '.join(f'{v:.{digits}g}' for v in values) + ']'
    return (f'# {command}\n# ({n_files} files, {n_pixels} pixels, {len(mean)} bands)\n'
            f'band_mean = {fmt(mean)}\nband_std = {fmt(std)}\n')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='folder of tiles')
    parser.add_argument('--pattern', default='*.tif', help="glob, recursive (default '*.tif')")
    parser.add_argument('--bands', type=int, nargs='+', default=None,
                        help='1-based bands to read (default all)')
    parser.add_argument('--uint16-scale', type=float, default=None,
                        help="LoadRSImage's uint16_scale (e.g. 10000 for S2 reflectance)")
    parser.add_argument('--nodata', default='raise',
                        help="LoadRSImage's no-data rule: raise (default), mean or a number")
    parser.add_argument('--out', default=None, help='also write the snippet to this file')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    files = sorted(Path(args.root).rglob(args.pattern))
    if not files:
        print(f'[band_stats] error: no {args.pattern} under {args.root}', file=sys.stderr)
        return 1
    try:
        nodata = args.nodata if args.nodata in ('raise', 'mean') else float(args.nodata)
        mean, std, n = band_stats(files, args.bands, args.uint16_scale, nodata)
    except ValueError as err:
        print(f'[band_stats] error: {err}', file=sys.stderr)
        return 1
    command = 'python tools/analysis_tools/band_stats.py ' + ' '.join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = snippet(mean, std, command, len(files), n)
    print(text, end='')
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
