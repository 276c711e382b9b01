"""Adapt an RGB backbone checkpoint to N input bands (e.g. 13-band Sentinel-2).

Usage::

    python tools/model_converters/rgb_to_nband.py SRC OUT --num-bands 13 \\
        --rgb-bands 3 2 1 [--rule mean|zero] [--target mmpretrain|mmseg|mmdet|mmrotate] \\
        [--teacher] [--no-prefix]

SRC: one of our exported backbones (``extract_backbone.py`` or
``official_cmid_to_mm.py`` output) or a CMID training checkpoint. Its first
layer (ResNet ``conv1`` / Swin ``patch_embed.projection``) must take 3 bands;
anything else is refused. ``--rgb-bands``: the 0-based indices of the bands
that are R, G and B in the N-band input (Sentinel-2 B01..B12 order with B8A:
B04 B03 B02 = ``3 2 1``). The RGB filters are copied onto those bands; the
other bands get the mean RGB filter and every filter is scaled by 3/N
(``--rule mean``: a flat N-band input gives the RGB model's activation), or
the others are zero (``--rule zero``). See :mod:`cmid_mm.export.band_adapt`.

OUT: an exported backbone (``backbone.`` keys unless ``--no-prefix``) for the
stock class built with ``in_channels=N``; it is written only when it matches
that class key for key. Exit status 1 and nothing written otherwise.
"""
from __future__ import annotations

import argparse
import sys

from cmid_mm.export import BACKBONE_PREFIX, TARGETS, ConversionError
from cmid_mm.export.band_adapt import RULES, adapt_checkpoint

NAME = '[rgb_to_nband]'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='RGB exported backbone or CMID checkpoint')
    parser.add_argument('dst', help='output N-band backbone checkpoint')
    parser.add_argument('--num-bands', type=int, required=True, help='N input bands')
    parser.add_argument('--rgb-bands', type=int, nargs=3, required=True,
                        metavar=('R', 'G', 'B'),
                        help='0-based indices of the R, G and B bands among the N')
    parser.add_argument('--rule', default='mean', choices=RULES,
                        help='initialisation of the other bands (default mean)')
    parser.add_argument('--target', default=None, choices=TARGETS,
                        help='layout to write (default: the one SRC was exported for, '
                             'else mmpretrain)')
    parser.add_argument('--teacher', action='store_true',
                        help='use the EMA teacher backbone of a CMID checkpoint')
    parser.add_argument('--no-prefix', action='store_true',
                        help='write the keys without the "backbone." prefix')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = adapt_checkpoint(args.src, args.dst, args.num_bands, args.rgb_bands,
                                  rule=args.rule, target=args.target, teacher=args.teacher,
                                  prefix='' if args.no_prefix else BACKBONE_PREFIX)
    except ConversionError as err:
        print(f'{NAME} error: {err}', file=sys.stderr)
        return 1
    print(f'{NAME} backbone: {report.spec.describe()}')
    print(f'{NAME} vs stock class with in_channels={args.num_bands}: '
          f'{report.target_check.describe()}')
    if not report.ok:
        print(f'{NAME} error: key mismatch, nothing written', file=sys.stderr)
        return 1
    print(f'{NAME} wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
