"""Extract the backbone of a CMID checkpoint for downstream training.

Usage::

    python tools/model_converters/extract_backbone.py CMID_CKPT OUT \\
        [--target mmpretrain|mmseg|mmdet|mmrotate] [--teacher] [--no-prefix]

Input: a checkpoint written by CMID pretraining in this repository (an
mmengine checkpoint with the student ``backbone.*``, the EMA teacher
``teacher.module.*``, the heads and the queue, and the config in
``meta['cfg']``).

Output: ``{'meta': {'cmid_export': {...}}, 'state_dict': {'backbone.<key>': ...}}``
with the student backbone (``--teacher``: the EMA teacher backbone), the mask
token dropped, in the key layout of the stock ``ResNet`` / ``SwinTransformer``
class of the target package (mmrotate uses mmdet's backbones). Use it with

    init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')

in the backbone of a config (or ``load_from=OUT``). With ``--no-prefix`` the
keys are the backbone's own (no ``backbone.``): the file for a model-level
``pretrained=OUT`` (mmseg / open-cd ``EncoderDecoder``) or a backbone
``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` without ``prefix``.

The weights are compared with the stock classes (from the checkpoint's config
when it has one, else from the keys) before and after the layout move; the
tool prints the result and exits with status 1, writing nothing, when any key
is missing, unexpected or of another shape. The work is done by
:func:`cmid_mm.export.extract`.
"""
from __future__ import annotations

import argparse
import sys

from cmid_mm.export import BACKBONE_PREFIX, TARGETS, ConversionError, extract

NAME = '[extract_backbone]'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='CMID checkpoint written by pretraining')
    parser.add_argument('dst', help='output backbone-only checkpoint')
    parser.add_argument('--target', default='mmpretrain', choices=TARGETS,
                        help='package whose stock backbone layout to write (default mmpretrain;'
                             ' mmrotate = mmdet)')
    parser.add_argument('--teacher', action='store_true',
                        help='export the EMA teacher backbone instead of the student')
    parser.add_argument('--no-prefix', action='store_true',
                        help='write the keys without the "backbone." prefix: for a model-level '
                             'pretrained= or a backbone init_cfg Pretrained without prefix')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    try:
        report = extract(args.src, args.dst, args.target, args.teacher,
                         prefix='' if args.no_prefix else BACKBONE_PREFIX, notes=notes)
    except ConversionError as err:
        print(f'{NAME} error: {err}', file=sys.stderr)
        return 1
    finally:
        for note in notes:
            print(f'{NAME} note: {note}', file=sys.stderr)
    spec = report.spec
    print(f'{NAME} {"teacher" if args.teacher else "student"} backbone: {spec.describe()}')
    print(f'{NAME} vs stock mmpretrain {spec.kind} (checkpoint config): '
          f'{report.source_check.describe()}')
    print(f'{NAME} vs stock {args.target} {spec.kind}: {report.target_check.describe()}')
    if report.initialised:
        print(f'{NAME} added with initial values (not pretrained): {report.initialised}')
    if report.removed:
        print(f'{NAME} left out (the target class has no such layer): {report.removed}')
    if not report.ok:
        print(f'{NAME} error: key mismatch, nothing written', file=sys.stderr)
        return 1
    print(f'{NAME} wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
