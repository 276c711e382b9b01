"""Convert checkpoints of the reference CMID implementation to the MM layout.

Usage::

    python tools/model_converters/official_cmid_to_mm.py SRC OUT \\
        [--target mmpretrain|mmseg|mmdet|mmrotate] [--branch online|momentum] [--no-prefix]

Reads a full checkpoint of NJU-LHRS/official-CMID (``online_encoder.model.*``,
``branch_encoder.*``, heads, the trainer's pickled metric objects read as inert
containers) or a released backbone-only file, and writes the same file as
``extract_backbone.py``: ``{'meta': {'cmid_export': ...}, 'state_dict':
{'backbone.<key>': ...}}`` (``--no-prefix``: the backbone's own keys), after
checking every key against the stock classes (exit status 1 with the list on
any mismatch). The work is done by :func:`cmid_mm.export.convert`; the format
is described in :mod:`cmid_mm.export.reference`.
"""
from __future__ import annotations

import argparse
import sys

from cmid_mm.export import BACKBONE_PREFIX, TARGETS, ConversionError, convert
from cmid_mm.export.reference import BRANCH_PREFIX

NAME = '[official_cmid_to_mm]'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint of NJU-LHRS/official-CMID')
    parser.add_argument('dst', help='output backbone-only checkpoint')
    parser.add_argument('--target', default='mmpretrain', choices=TARGETS)
    parser.add_argument('--branch', default='online', choices=sorted(BRANCH_PREFIX),
                        help='online (student, used downstream in the paper) or momentum')
    parser.add_argument('--no-prefix', action='store_true',
                        help='write the keys without the "backbone." prefix: for a model-level '
                             'pretrained= or a backbone init_cfg Pretrained without prefix')
    args = parser.parse_args(argv)
    notes: list[str] = []
    try:
        report, prefix, dropped = convert(args.src, args.dst, args.target, args.branch,
                                          prefix='' if args.no_prefix else BACKBONE_PREFIX,
                                          notes=notes)
    except ConversionError as err:
        print(f'{NAME} error: {err}', file=sys.stderr)
        return 1
    finally:
        for note in notes:
            print(f'{NAME} note: {note}', file=sys.stderr)
    print(f'{NAME} {prefix or "(no prefix)"}* -> {report.spec.describe()}')
    print(f'{NAME} vs stock mmpretrain: {report.source_check.describe()}')
    print(f'{NAME} vs stock {args.target}: {report.target_check.describe()}')
    if report.initialised:
        print(f'{NAME} added with initial values (not pretrained): {report.initialised}')
    if dropped:
        print(f'{NAME} left out: {dropped}')
    if not report.ok:
        print(f'{NAME} error: key mismatch, nothing written', file=sys.stderr)
        return 1
    print(f'{NAME} wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
