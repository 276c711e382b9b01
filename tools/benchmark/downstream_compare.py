"""Downstream fine-tune through a stock mmseg config: CMID vs random (vs MoCo v2) init.

Fine-tunes mmseg's stock FCN R18-d8 (``mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py``
with the documented overrides of docs/downstream.md, in
``configs/benchmarks/downstream_compare/fcn_r18-d8_1xb8-200i_landcover-64x64.py``) on the
real 7-class Raleigh land-cover tiles (``cmid_mm.rsdata.build_landcover``:
Landsat 7, 64 x 64 tiles, spatially held-out val strip), once per
initialisation and seed, and reports the val mIoU (mean +- sample std over
the seeds).

Initialisations (the same config, only ``model.backbone.init_cfg`` differs):

=================  ==========================================================================
random             the config as is (mmseg's ResNet default init)
``--init M=FILE``  any method ``M`` of :data:`cmid_mm.benchmark.METHODS`: its pretraining
                   checkpoint (CMID: the student, exported with
                   ``cmid_mm.export.extract(..., target='mmseg')``, what
                   ``extract_backbone.py --target mmseg`` does; an mmpretrain method: its
                   ``backbone.*`` tensors), a file ``extract_backbone.py`` exported, or the
                   ``backbone.pth`` of a benchmark run (mapped into mmseg's ``ResNet`` with
                   the exporter's checks); loaded by ``init_cfg=dict(type='Pretrained',
                   checkpoint=F, prefix='backbone.')``. ``--cmid-ckpt F`` and
                   ``--mocov2-ckpt F`` are short for ``--init cmid=F`` / ``mocov2=F``.
``--ssl-compare``  ``--ssl-compare-dirs D1 [D2 ...] --methods cmid mocov2 ...``: the
                   same-budget checkpoints of ``ssl_compare.py`` work dirs
                   (``D/resnet18/<method>/seed<s>/backbone.pth``); fine-tune seed ``s`` starts
                   from pretraining seed ``s`` (``--pretrain-seed K``: from seed ``K`` for all)
=================  ==========================================================================

The backbone width follows the checkpoints: when they are narrower than the stock 64
channels (the CPU benchmark's width 16), every row, random included, sets
``model.backbone.stem_channels`` / ``base_channels`` and the two heads' ``in_channels``
to match (the only change to the stock model besides docs/downstream.md's overrides);
checkpoints of different widths are refused.

Every run is ``tools/train.py <leaf config> --cfg-options randomness.seed=S`` in a
child process (mmengine ``Runner``, real checkpoints). The leaf config of each
initialisation is written to ``<work-dir>/<init>/config.py`` (runnable as is). The
config's ``PretrainedLoadCheckHook`` fails a run whose backbone did not load the
file (< 90 % of its tensors equal to the file's); its log line is kept in the
results as the load check. A run that already finished with the same leaf config
and seed (``<run dir>/result.json``) is reused unless ``--force``. Results: stdout,
``<work-dir>/results.json``, ``<work-dir>/results.md`` and, with ``--out``, between the markers
``<!-- downstream_compare:start/end -->`` of that file.

Examples::

    # 3 seeds, 200 iterations, CMID vs random (about 2.5 min per run on 1 core)
    python tools/benchmark/downstream_compare.py \\
        --cmid-ckpt work_dirs/demo/pretrain/epoch_20.pth --seeds 0 1 2
    # the same-budget checkpoints of ssl_compare.py, pretraining seed = fine-tune seed
    python tools/benchmark/downstream_compare.py --ssl-compare-dirs W0 W12 \\
        --methods cmid mocov2 densecl simmim --seeds 0 1 2
    # smoke test: 4 iterations, 1 seed, 8 train / 4 val tiles
    python tools/benchmark/downstream_compare.py --cmid-ckpt CKPT --micro --work-dir /tmp/dc
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from cmid_mm.benchmark import METHODS, REPO, export_for_finetune, mean_std, row, rule
from cmid_mm.benchmark import display as method_display
from cmid_mm.benchmark import markers as tool_markers
from cmid_mm.benchmark import write_section as write_marked

CONFIG = (REPO / 'configs' / 'benchmarks' / 'downstream_compare'
          / 'fcn_r18-d8_1xb8-200i_landcover-64x64.py')
TRAIN = REPO / 'tools' / 'train.py'
#: the shorthand flags: --<method>-ckpt F is --init <method>=F
SHORTHANDS = ('cmid', 'mocov2')
#: the ssl_compare backbone whose run checkpoints fit the fine-tune config (FCN R18)
SSL_BACKBONE = 'resnet18'
#: the stock ResNet-18 width (stem and base channels)
STOCK_WIDTH = 64
MICRO = dict(iters=4, seeds=[0], train_tiles=8, val_tiles=4)
MARKERS = tool_markers('downstream_compare')
LOAD_LINE = re.compile(r'PretrainedLoadCheckHook: (.*)')


def log(msg: str) -> None:
    print(f'[downstream_compare] {msg}', flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--cmid-ckpt', help='CMID pretraining checkpoint, or a backbone file '
                   'exported by extract_backbone.py --target mmseg')
    p.add_argument('--mocov2-ckpt', help='mmpretrain MoCo v2 checkpoint (backbone.* keys)')
    p.add_argument('--init', action='append', default=[], metavar='METHOD=FILE',
                   help='a pretrained row: method (a METHODS key) and its checkpoint, exported '
                   'file or benchmark-run backbone.pth (repeatable)')
    p.add_argument('--ssl-compare-dirs', nargs='+', default=[], metavar='DIR',
                   help='ssl_compare.py work dirs whose DIR/resnet18/<method>/seed<s>/'
                   'backbone.pth start the --methods rows')
    p.add_argument('--methods', nargs='+', default=[], choices=sorted(METHODS),
                   help='the rows taken from --ssl-compare-dirs')
    p.add_argument('--pretrain-seed', type=int,
                   help='with --ssl-compare-dirs: the pretraining seed of every fine-tune '
                   '(default: the fine-tune seed itself)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--iters', type=int, default=200, help='training iterations per run')
    p.add_argument('--config', default=str(CONFIG), help='the fine-tune config')
    p.add_argument('--data-root', help='root of the rsdata builders (default: their default)')
    p.add_argument('--work-dir', help='default: work_dirs/downstream_compare[_micro]')
    p.add_argument('--out', help='markdown file whose downstream_compare section gets the table')
    p.add_argument('--micro', action='store_true',
                   help=f'smoke run: {MICRO["iters"]} iterations, seed 0, '
                   f'{MICRO["train_tiles"]} train / {MICRO["val_tiles"]} val tiles')
    p.add_argument('--force', action='store_true',
                   help='retrain runs that already finished with the same config and seed')
    p.add_argument('--threads', type=int, default=1, help='OMP threads of each run')
    args = p.parse_args(argv)
    if args.micro:
        args.iters, args.seeds = MICRO['iters'], MICRO['seeds']
    args.work_dir = args.work_dir or ('work_dirs/downstream_compare'
                                      + ('_micro' if args.micro else ''))
    if args.iters < 1:
        p.error(f'--iters must be >= 1, got {args.iters}')
    if bool(args.ssl_compare_dirs) != bool(args.methods):
        p.error('--ssl-compare-dirs and --methods go together')
    if args.pretrain_seed is not None and not args.ssl_compare_dirs:
        p.error('--pretrain-seed needs --ssl-compare-dirs')
    args.inits = {}
    for spec in ([f'{m}={getattr(args, f"{m}_ckpt")}' for m in SHORTHANDS
                  if getattr(args, f'{m}_ckpt')] + args.init):
        method, sep, path = spec.partition('=')
        if not sep or not path:
            p.error(f'--init {spec!r}: expected METHOD=FILE')
        if method not in METHODS:
            p.error(f'--init {spec!r}: unknown method {method!r}; one of {sorted(METHODS)}')
        if method in args.inits:
            p.error(f'--init: {method} given twice')
        args.inits[method] = path
    for method in args.methods:
        if method in args.inits:
            p.error(f'{method}: given both by --init/--{method}-ckpt and by --methods')
    return args


# --------------------------------------------------------------------------- initialisations
def prepare_mocov2(src: Path, dst: Path) -> Path:
    """Write the ``backbone.*`` tensors of an mmpretrain MoCo v2 checkpoint to ``dst``."""
    return export_for_finetune('mocov2', src, dst, target='mmseg', log=log)


def ssl_compare_checkpoint(dirs: list[str], method: str, seed: int) -> Path:
    """``D/resnet18/<method>/seed<seed>/backbone.pth`` of the first of ``dirs`` that has it.

    Raises:
        FileNotFoundError: none has it (every path tried is named).
    """
    tried = [Path(d) / SSL_BACKBONE / method / f'seed{seed}' / 'backbone.pth' for d in dirs]
    for path in tried:
        if path.is_file():
            return path
    raise FileNotFoundError(f'no {METHODS[method].display} seed-{seed} run checkpoint: '
                            f'tried {", ".join(map(str, tried))}')


def resolve_inits(args: argparse.Namespace, work: Path) -> dict[str, dict[int, Path | None]]:
    """Initialisation -> fine-tune seed -> ``Pretrained`` file (None: random init).

    Each source file is exported once (``<work>/init/<method>[_seed<k>]_mmseg.pth``)."""
    inits: dict[str, dict[int, Path | None]] = {'random': dict.fromkeys(args.seeds)}
    for method, src in args.inits.items():
        f = export_for_finetune(method, Path(src), work / 'init' / f'{method}_mmseg.pth',
                                target='mmseg', log=log)
        inits[method] = dict.fromkeys(args.seeds, f)
    for method in args.methods:
        files = {}
        for seed in args.seeds:
            k = seed if args.pretrain_seed is None else args.pretrain_seed
            src = ssl_compare_checkpoint(args.ssl_compare_dirs, method, k)
            files[seed] = export_for_finetune(
                method, src, work / 'init' / f'{method}_seed{k}_mmseg.pth', target='mmseg',
                log=log)
        inits[method] = files
    return inits


def init_width(path: Path) -> int:
    """Stem and base channels of an exported ResNet backbone file (one number).

    Raises:
        ValueError: the file is not a ResNet backbone, or its stem and base widths differ.
    """
    from cmid_mm.export import ConversionError, infer_spec
    from cmid_mm.utils.checkpoint import safe_load_checkpoint
    state = {k[len('backbone.'):]: v for k, v in
             safe_load_checkpoint(path).get('state_dict', {}).items()
             if k.startswith('backbone.')}
    try:
        spec = infer_spec(state, where=str(path))
    except ConversionError as e:
        raise ValueError(str(e)) from None
    if spec.kind != 'ResNet' or spec.params.get('deep_stem'):
        raise ValueError(f'{path}: not a plain-stem ResNet backbone file ({spec.describe()})')
    stem, base = spec.params['stem_channels'], spec.params['base_channels']
    if stem != base:
        raise ValueError(f'{path}: stem width {stem} != base width {base}: the fine-tune '
                         'sets one width')
    return stem


def common_width(inits: dict[str, dict[int, Path | None]]) -> int:
    """The one backbone width of every pretrained file (the stock 64 with none).

    Raises:
        ValueError: two files have different widths (both are named).
    """
    widths = {f: init_width(f) for files in inits.values() for f in set(files.values()) if f}
    if len(set(widths.values())) > 1:
        listed = ', '.join(f'{f}: {w}' for f, w in widths.items())
        raise ValueError(f'the pretrained backbones have different widths ({listed}); '
                         'every row of one table must have the same model')
    return next(iter(widths.values()), STOCK_WIDTH)


def width_overrides(width: int) -> dict:
    """Backbone stem/base channels and the FCN heads' input widths for ResNet-18 ``width``
    (stage 4 gives ``8 width`` channels to the decode head, stage 3 ``4 width`` to the
    auxiliary head); nothing at the stock width."""
    if width == STOCK_WIDTH:
        return {}
    return dict(backbone=dict(stem_channels=width, base_channels=width),
                decode_head=dict(in_channels=8 * width),
                auxiliary_head=dict(in_channels=4 * width))


def write_leaf_config(path: Path, base: Path, data_root: Path, iters: int, init_file: Path | None,
                      subset: tuple[int, int] | None, width: int = STOCK_WIDTH) -> Path:
    """A runnable config: ``base`` with the data root, schedule length, backbone init and
    (off the stock width) the backbone width."""
    init = (None if init_file is None else
            dict(_delete_=True, type='Pretrained', checkpoint=str(init_file),
                 prefix='backbone.'))
    model = width_overrides(width)
    model['backbone'] = dict(model.get('backbone', {}), init_cfg=init)
    lines = [
        '# written by tools/benchmark/downstream_compare.py',
        f'_base_ = {str(base)!r}',
        f'data_root = {str(data_root)!r}',
        (f'model = dict(backbone=dict(init_cfg={init!r}))' if width == STOCK_WIDTH else
         f'model = {model!r}'),
        f'train_cfg = dict(max_iters={iters}, val_interval={iters})',
        'param_scheduler = [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, '
        f'end={iters}, by_epoch=False)]',
        f'default_hooks = dict(checkpoint=dict(interval={iters}), '
        f'logger=dict(interval={max(1, min(10, iters))}))',
    ]
    train_idx, val_idx = (None, None) if subset is None else subset
    lines += [
        f'train_dataloader = dict(dataset=dict(data_root=data_root, indices={train_idx!r}))',
        f'val_dataloader = dict(dataset=dict(data_root=data_root, indices={val_idx!r}))',
        f'test_dataloader = dict(dataset=dict(data_root=data_root, indices={val_idx!r}))',
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines) + '\n')
    return path


# --------------------------------------------------------------------------- runs
def read_run(run_dir: Path) -> dict:
    """mIoU / aAcc / mAcc of the last validation and the load-check line of a finished run."""
    scalars = sorted(run_dir.glob('*/vis_data/scalars.json'))
    if not scalars:
        raise RuntimeError(f'{run_dir}: no */vis_data/scalars.json: the run wrote no metrics')
    metrics = None
    for line in scalars[-1].read_text().splitlines():
        rec = json.loads(line)
        if 'mIoU' in rec:
            metrics = rec
    if metrics is None:
        raise RuntimeError(f'{scalars[-1]}: no validation record with "mIoU"')
    logs = sorted(run_dir.glob('*/*.log'))
    load = LOAD_LINE.findall(logs[-1].read_text()) if logs else []
    return dict(mIoU=float(metrics['mIoU']), aAcc=float(metrics['aAcc']),
                mAcc=float(metrics['mAcc']), load_check=load)


def run_one(cfg: Path, run_dir: Path, seed: int, threads: int, force: bool = False) -> dict:
    """Train one (config, seed) in a child ``tools/train.py``; reuse a finished identical run.

    A run whose ``result.json`` records the same config text and seed is not
    repeated (``force``: always train); its result is returned with ``reused``.
    """
    record = run_dir / 'result.json'
    if record.exists() and not force:
        old = json.loads(record.read_text())
        if old.get('config_text') == cfg.read_text() and old.get('seed') == seed:
            log(f'{run_dir}: finished run with the same config and seed, reused')
            return dict(old, reused=True)
    cmd = [sys.executable, str(TRAIN), str(cfg), '--work-dir', str(run_dir),
           '--cfg-options', f'randomness.seed={seed}']
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]))
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'run {run_dir} failed (exit {proc.returncode}): {shlex.join(cmd)}\n'
                           f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    res = read_run(run_dir)
    res.update(seed=seed, seconds=round(time.time() - t0, 1), command=shlex.join(cmd),
               config_text=cfg.read_text())
    record.write_text(json.dumps(res, indent=2))
    return dict(res, reused=False)


def summarise(runs: list[dict]) -> dict:
    """Mean and sample std (0.0 for one seed) of the val mIoU over seeds, mean aAcc."""
    vals = [r['mIoU'] for r in runs]
    mean, std = mean_std(vals)
    return dict(mean=mean, std=std or 0.0, n=len(vals), per_seed=vals,
                aAcc=sum(r['aAcc'] for r in runs) / len(runs))


def render(results: dict, meta: dict) -> str:
    lines = [row(['init', 'val mIoU (mean ± std)', 'per seed', 'aAcc (mean)']), rule('llll')]
    for init, res in results.items():
        s = res['summary']
        seeds = ', '.join(f'{v:.2f}' for v in s['per_seed'])
        lines.append(f'| {method_display(init)} | {s["mean"]:.2f} ± {s["std"]:.2f} | {seeds} | '
                     f'{s["aAcc"]:.2f} |')
    lines += ['', f'{meta["iters"]} iterations, batch 8, seeds {meta["seeds"]} '
              f'(std: sample std over seeds), {meta["n_train"]} train / {meta["n_val"]} val '
              f'tiles; measured {meta["date"]} on {meta["host"]}; command: '
              f'`{meta["command"]}`']
    if meta.get('width', STOCK_WIDTH) != STOCK_WIDTH:
        lines[-1] += (f'; backbone width {meta["width"]} (stem/base channels, the heads\' '
                      'input widths follow) in every row, as the checkpoints')
    if meta.get('ssl_compare_dirs'):
        k = meta.get('pretrain_seed')
        lines[-1] += ('; pretrained rows: the `ssl_compare.py` run checkpoints of '
                      f'{", ".join(meta["ssl_compare_dirs"])}, '
                      + ('pretraining seed = fine-tune seed' if k is None
                         else f'pretraining seed {k} for every fine-tune seed'))
    return '\n'.join(lines)


def write_section(out: Path, body: str) -> None:
    """Replace the text between the markers in ``out`` (append if absent)."""
    write_marked(out, MARKERS, body)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from cmid_mm.rsdata import build_landcover, read_build_info
    work = Path(args.work_dir).resolve()
    data_root = build_landcover(args.data_root)[0]
    counts = read_build_info(data_root)['counts']
    subset = (MICRO['train_tiles'], MICRO['val_tiles']) if args.micro else None
    n_train, n_val = (subset if subset else (counts['train'], counts['val']))

    inits = resolve_inits(args, work)
    width = common_width(inits)
    base = Path(args.config).resolve()
    # one file (or random init) for every seed: one leaf config, as one init_file / config
    shared = {init: len(set(files.values())) == 1 for init, files in inits.items()}
    cfgs: dict[str, dict[int, Path]] = {}
    for init, files in inits.items():
        cfgs[init] = {seed: write_leaf_config(
            work / init / ('config.py' if shared[init] else f'config_seed{seed}.py'), base,
            data_root, args.iters, f, subset, width) for seed, f in files.items()}
    runs: dict[str, list] = {init: [] for init in inits}
    for seed in args.seeds:  # seed-major: an interrupted benchmark still has paired runs
        for init, files in inits.items():
            run = run_one(cfgs[init][seed], work / init / f'seed{seed}', seed, args.threads,
                          args.force)
            if files[seed] is not None and not run['load_check']:
                raise RuntimeError(f'{work / init / f"seed{seed}"}: no PretrainedLoadCheckHook '
                                   f'line in the log: the {init} weights were not checked')
            log(f'{init} seed {seed}: mIoU {run["mIoU"]:.2f} ({run["seconds"]} s) '
                f'{"; ".join(run["load_check"])}')
            runs[init].append(dict(run, init_file=None if files[seed] is None
                                   else str(files[seed])))
    results = {}
    for init, files in inits.items():
        first = files[args.seeds[0]]
        results[init] = dict(
            init_file=(None if first is None else str(first)) if shared[init] else
            {str(seed): str(f) for seed, f in files.items()},
            config=str(cfgs[init][args.seeds[0]]) if shared[init] else
            {str(seed): str(c) for seed, c in cfgs[init].items()},
            runs=runs[init], summary=summarise(runs[init]))

    meta = dict(date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                host=f'{platform.machine()}, {os.cpu_count()} CPUs, {args.threads} thread(s)/run',
                iters=args.iters, seeds=args.seeds, n_train=n_train, n_val=n_val,
                micro=args.micro, data_root=str(data_root), width=width,
                ssl_compare_dirs=args.ssl_compare_dirs, pretrain_seed=args.pretrain_seed,
                command=shlex.join(['python', 'tools/benchmark/downstream_compare.py',
                                    *(sys.argv[1:] if argv is None else argv)]))
    table = render(results, meta)
    print(table, flush=True)
    work.mkdir(parents=True, exist_ok=True)
    (work / 'results.json').write_text(json.dumps(dict(meta=meta, results=results), indent=2))
    (work / 'results.md').write_text(table + '\n')
    if args.out:
        write_section(Path(args.out), table)
        log(f'table written to {args.out}')
    return dict(meta=meta, results=results)


if __name__ == '__main__':
    main()
