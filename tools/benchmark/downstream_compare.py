"""Downstream fine-tune through a stock mmseg config: CMID vs random (vs MoCo v2) init.

Fine-tunes mmseg's stock FCN R18-d8 (``mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py``
with the documented overrides of docs/downstream.md, in
``configs/benchmarks/downstream_compare/fcn_r18-d8_1xb8-200i_landcover-64x64.py``) on the
real 7-class Raleigh land-cover tiles (``cmid_mm.rsdata.build_landcover``:
Landsat 7, 64 x 64 tiles, spatially held-out val strip), once per
initialisation and seed, and reports the val mIoU (mean +- sample std over
the seeds).

Initialisations (the same config, only ``model.backbone.init_cfg`` differs):

=========  ==================================================================================
random     the config as is (mmseg's ResNet default init)
cmid       ``--cmid-ckpt``: a CMID pretraining checkpoint (exported here with
           ``cmid_mm.export.extract(..., target='mmseg')``, what
           ``tools/model_converters/extract_backbone.py --target mmseg`` does) or an
           already exported file; loaded by ``init_cfg=dict(type='Pretrained',
           checkpoint=F, prefix='backbone.')``
mocov2     ``--mocov2-ckpt``: an mmpretrain MoCo v2 checkpoint (e.g. from
           ``tools/benchmark/ssl_compare.py``): its ``backbone.*`` tensors, same init_cfg
=========  ==================================================================================

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

from cmid_mm.benchmark import REPO, export_for_finetune, mean_std, row, rule
from cmid_mm.benchmark import backbone_tensors as _backbone_tensors
from cmid_mm.benchmark import display as method_display
from cmid_mm.benchmark import markers as tool_markers
from cmid_mm.benchmark import write_section as write_marked

CONFIG = (REPO / 'configs' / 'benchmarks' / 'downstream_compare'
          / 'fcn_r18-d8_1xb8-200i_landcover-64x64.py')
TRAIN = REPO / 'tools' / 'train.py'
#: initialisations: random + the methods whose checkpoint a flag gives (--<method>-ckpt)
INITS = ('random', 'cmid', 'mocov2')
DISPLAY = {init: method_display(init) for init in INITS}
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
    return args


# --------------------------------------------------------------------------- initialisations
def backbone_tensors(path: str | Path, what: str) -> dict:
    """The ``backbone.*`` tensors of a checkpoint (:func:`cmid_mm.benchmark.backbone_tensors`)."""
    return _backbone_tensors(path, what)


def prepare_cmid(src: Path, dst: Path) -> Path:
    """Export the student backbone of a CMID checkpoint for mmseg (or take an exported file)."""
    return export_for_finetune('cmid', src, dst, target='mmseg', log=log)


def prepare_mocov2(src: Path, dst: Path) -> Path:
    """Write the ``backbone.*`` tensors of an mmpretrain MoCo v2 checkpoint to ``dst``."""
    return export_for_finetune('mocov2', src, dst, target='mmseg', log=log)


def write_leaf_config(path: Path, base: Path, data_root: Path, iters: int, init_file: Path | None,
                      subset: tuple[int, int] | None) -> Path:
    """A runnable config: ``base`` with the data root, schedule length and backbone init."""
    init = (None if init_file is None else
            dict(_delete_=True, type='Pretrained', checkpoint=str(init_file),
                 prefix='backbone.'))
    lines = [
        '# written by tools/benchmark/downstream_compare.py',
        f'_base_ = {str(base)!r}',
        f'data_root = {str(data_root)!r}',
        f'model = dict(backbone=dict(init_cfg={init!r}))',
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
        lines.append(f'| {DISPLAY[init]} | {s["mean"]:.2f} ± {s["std"]:.2f} | {seeds} | '
                     f'{s["aAcc"]:.2f} |')
    lines += ['', f'{meta["iters"]} iterations, batch 8, seeds {meta["seeds"]} '
              f'(std: sample std over seeds), {meta["n_train"]} train / {meta["n_val"]} val '
              f'tiles; measured {meta["date"]} on {meta["host"]}; command: '
              f'`{meta["command"]}`']
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

    inits: dict[str, Path | None] = {'random': None}
    if args.cmid_ckpt:
        inits['cmid'] = prepare_cmid(Path(args.cmid_ckpt), work / 'init' / 'cmid_mmseg.pth')
    if args.mocov2_ckpt:
        inits['mocov2'] = prepare_mocov2(Path(args.mocov2_ckpt), work / 'init' / 'mocov2_mmseg.pth')

    cfgs = {init: write_leaf_config(work / init / 'config.py', Path(args.config).resolve(),
                                    data_root, args.iters, init_file, subset)
            for init, init_file in inits.items()}
    runs: dict[str, list] = {init: [] for init in inits}
    for seed in args.seeds:  # seed-major: an interrupted benchmark still has paired runs
        for init, init_file in inits.items():
            run = run_one(cfgs[init], work / init / f'seed{seed}', seed, args.threads, args.force)
            if init_file is not None and not run['load_check']:
                raise RuntimeError(f'{work / init / f"seed{seed}"}: no PretrainedLoadCheckHook '
                                   f'line in the log: the {init} weights were not checked')
            log(f'{init} seed {seed}: mIoU {run["mIoU"]:.2f} ({run["seconds"]} s) '
                f'{"; ".join(run["load_check"])}')
            runs[init].append(run)
    results = {init: dict(init_file=None if init_file is None else str(init_file),
                          config=str(cfgs[init]), runs=runs[init], summary=summarise(runs[init]))
               for init, init_file in inits.items()}

    meta = dict(date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                host=f'{platform.machine()}, {os.cpu_count()} CPUs, {args.threads} thread(s)/run',
                iters=args.iters, seeds=args.seeds, n_train=n_train, n_val=n_val,
                micro=args.micro, data_root=str(data_root),
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
