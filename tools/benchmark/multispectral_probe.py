"""Short 13-band CMID runs of recipe variants, one hypothesis each: where ``loss_rec`` goes.

Every variant is the 13-band CPU config
(``configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py``) at the multispectral
benchmark's settings (``tools/benchmark/multispectral_compare.py``: the 64 tiles of
``pretrain/msi``, ResNet-18 width 16, 96 px, batch 16, Adan + warm-up + cosine, CMID's
short-schedule rules for the run's length) with ``model.log_rec_parts=True``, plus the
variant's own change (:data:`VARIANTS`). Each run logs the pixel and frequency parts of
``loss_rec`` and each band's share of both (``CMIDMIMHead.diagnostics``); the table gives,
for every variant, ``loss_rec`` and its parts over the first and the last 10 % of the steps,
the bands with the largest last-10 % shares, and the ratio last / first.

The variants (``--variants``, default all):

- ``baseline``: the recipe as shipped;
- ``rec_only``: ``loss_weights`` rec 1, global 0, local 0 (is it the competition with the
  invariance terms?);
- ``no_freq``: no focal frequency loss;
- ``no_jitter`` / ``no_noise`` / ``no_solarize``: the strong view without that op;
- ``no_photometric``: the strong view without any photometric op (decoder capacity: can
  13 bands be reconstructed at all in this budget?);
- ``band_space``: brightness, contrast and noise in each band's own range
  (``band_mean`` / ``band_std`` on ``RSColorJitter`` and ``RSGaussNoise``, as the shipped
  configs now do; the old recipe is ``baseline``).

Example (docs/benchmarks.md, "Multispectral: why 13-band loss_rec rose")::

    nice -n 5 python tools/benchmark/multispectral_probe.py --iters 760 --jobs 2 \\
        --out work_dirs/multispectral_probe/probe.md
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cmid_mm.benchmark import (
    PROFILES,
    REPO,
    Budget,
    build_config,
    child_command,
    child_env,
    dump_config,
    plan_epochs,
    row,
    rule,
)
from cmid_mm.benchmark import markers as tool_markers

SCRIPT = Path(__file__).resolve()
CONFIG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py'
MARKERS = tool_markers('multispectral_probe')
MICRO = dict(tiles=8, batch_size=4, iters=12)


def _view_b(cfg) -> list[dict]:
    """The strong view's op list inside the config's ``CMIDMultiView``."""
    for t in cfg.train_dataloader.dataset.pipeline:
        if t['type'] == 'CMIDMultiView':
            return t['view_pipelines'][1]
    raise KeyError(f'{CONFIG}: no CMIDMultiView in train_dataloader.dataset.pipeline')


def _drop(op_type: str) -> Callable:
    def patch(cfg) -> None:
        ops = _view_b(cfg)
        ops[:] = [t for t in ops if t['type'] != op_type]
    return patch


def _no_photometric(cfg) -> None:
    _view_b(cfg).clear()


def _rec_only(cfg) -> None:
    cfg.model.loss_weights = dict(loss_rec=1., loss_global=0., loss_local=0.)


def _no_freq(cfg) -> None:
    cfg.model.head.fft_loss = None


def _old_recipe(cfg) -> None:
    """The recipe before the band-space fix: jitter and noise on reflectance, one noise
    variance for all bands (the measurement of issue 14)."""
    for t in _view_b(cfg):
        if t['type'] in ('RSColorJitter', 'RSGaussNoise'):
            t.pop('band_mean', None)
            t.pop('band_std', None)
        if t['type'] == 'RSGaussNoise':
            t['var_limit'] = (0.064, 0.32)


def _shipped(cfg) -> None:
    """The shipped config as it is (jitter and noise in each band's range)."""


def _then(*patches: Callable) -> Callable:
    def patch(cfg) -> None:
        for p in patches:
            p(cfg)
    return patch


#: name -> (what it tests, patch on top of the shipped 13-band config)
VARIANTS: dict[str, tuple[str, Callable]] = {
    'baseline': ('old recipe (jitter and noise on reflectance)', _old_recipe),
    'rec_only': ('old recipe, loss_weights rec 1 / global 0 / local 0',
                 _then(_old_recipe, _rec_only)),
    'no_freq': ('old recipe without the focal frequency loss', _then(_old_recipe, _no_freq)),
    'no_jitter': ('old recipe without RSColorJitter',
                  _then(_old_recipe, _drop('RSColorJitter'))),
    'no_noise': ('old recipe without RSGaussNoise', _then(_old_recipe, _drop('RSGaussNoise'))),
    'no_solarize': ('old recipe without RSSolarize',
                    _then(_old_recipe, _drop('RSSolarize'))),
    'no_photometric': ('strong view without photometric ops', _no_photometric),
    'band_space': ('jitter and noise in each band\'s range (shipped)', _shipped),
}


def log(msg: str) -> None:
    print(f'[multispectral_probe {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--iters', type=int, default=760, help='optimizer steps per run, rounded '
                   'up to whole epochs of the 64 tiles')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--jobs', type=int, default=1, help='runs at the same time (1 thread each)')
    p.add_argument('--work-dir', default='work_dirs/multispectral_probe')
    p.add_argument('--out', help='Markdown file whose marked section is replaced '
                   '(default: <work-dir>/probe.md)')
    p.add_argument('--micro', action='store_true', help='8 tiles, batch 4, 12 steps')
    p.add_argument('--resume', action='store_true', help='keep the runs that finished')
    p.add_argument('--data-root', default=None)
    args = p.parse_args(argv)
    prof = PROFILES['cpu']
    micro = MICRO if args.micro else {}
    args.profile = 'cpu'
    args.iters = micro.get('iters', args.iters)
    args.batch_size = micro.get('batch_size', prof.batch_size)
    args.tiles = micro.get('tiles')
    args.lr, args.width, args.crop_size = prof.lr, prof.width, prof.crop_size
    args.num_workers = 0 if args.micro else prof.num_workers
    args.threads = 1
    args.work_dir = Path(args.work_dir).resolve()
    args.out = Path(args.out).resolve() if args.out else args.work_dir / 'probe.md'
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def build(variant: str, args: argparse.Namespace, data_root: Path, tiles: int,
          epochs: int) -> Path:
    """The run config of ``variant`` (benchmark settings + ``log_rec_parts`` + its patch)."""
    run_dir = args.work_dir / variant
    run_dir.mkdir(parents=True, exist_ok=True)
    budget = Budget(batch_size=args.batch_size, lr=args.lr, crop_size=args.crop_size,
                    num_workers=args.num_workers, tiles=args.tiles, amp=False)
    cfg = build_config(CONFIG, budget, data_root, run_dir, 'cmid', args.seed, epochs, tiles,
                       args.width)
    cfg.model.pop('loss_weights', None)
    cfg.model.log_rec_parts = True
    # every step logged as it is (mmengine smooths only keys with 'loss' in their name)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(window_size=1)
    VARIANTS[variant][1](cfg)
    return dump_config(cfg, run_dir / 'config.py')


def read_scalars(run_dir: Path) -> list[dict]:
    """The logged training scalars (mmengine ``LocalVisBackend``'s ``scalars.json``)."""
    files = sorted(run_dir.glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'{run_dir}: no */vis_data/scalars.json (did the run finish?)')
    return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]


def summarise_run(rows: list[dict], frac: float = 0.1) -> dict:
    """Means of every ``loss_rec`` / ``rec_*`` scalar over the first and the last ``frac``
    of the steps (the runs log every step, unsmoothed)."""
    rows = [r for r in rows if 'loss_rec' in r]
    n = max(1, math.ceil(len(rows) * frac))
    keys = [k for k in rows[0] if k == 'loss_rec' or k.startswith('rec_')]
    first = {k: sum(r[k] for r in rows[:n]) / n for k in keys}
    last = {k: sum(r[k] for r in rows[-n:]) / n for k in keys}
    low = min(rows, key=lambda r: r['loss_rec'])
    return dict(first=first, last=last, steps=rows[-1]['iter'],
                min_rec=low['loss_rec'], min_rec_step=low['iter'],
                window=n)


def render(results: dict) -> str:
    lines = [f'Command: `{results["command"]}`', '',
             f'Run {results["date"]}, CPU, 1 torch thread + 1 data worker per run, '
             f'{results["jobs"]} run(s) at a time; {results["steps"]} optimizer steps per run, '
             f'seed {results["seed"]}; first / last = mean over the first / last 10 % of the '
             'logged steps.', '',
             row(['variant', 'what it tests', 'loss_rec first -> last', '(lowest, at step)',
                  'pixel part first -> last', 'frequency part first -> last',
                  'largest band shares at the end (pixel + frequency)']),
             rule('llrrrrl')]
    for name, r in results['runs'].items():
        f, la = r['first'], r['last']
        bands = sorted({k.split('_', 2)[2] for k in la if k.startswith('rec_pix_')})
        share = {b: la[f'rec_pix_{b}'] + la[f'rec_freq_{b}'] for b in bands}
        top = sorted(share, key=share.get, reverse=True)[:3]
        lines.append(
            f'| {name} | {VARIANTS[name][0]} | {f["loss_rec"]:.2f} -> {la["loss_rec"]:.2f} '
            f'| {r["min_rec"]:.2f} @ {r["min_rec_step"]} '
            f'| {f["rec_pix"]:.2f} -> {la["rec_pix"]:.2f} '
            f'| {f["rec_freq"]:.2f} -> {la["rec_freq"]:.2f} | '
            + ', '.join(f'{b} {share[b]:.2f}' for b in top) + ' |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from cmid_mm.rsdata import build_pretrain_tiles
    from cmid_mm.utils import write_marked_section
    command = shlex.join(['python', os.path.relpath(SCRIPT, REPO), *args.argv])
    log(f'command: {command}')
    data_root = build_pretrain_tiles(args.data_root) / 'msi'
    tiles = len(list(data_root.glob('*.tif')))
    tiles = min(tiles, args.tiles) if args.tiles else tiles
    ipe, epochs = plan_epochs(tiles, args.batch_size, args.iters)
    log(f'{tiles} tiles: {epochs} epochs x {ipe} steps per run')
    pending = []
    for v in args.variants:
        done = args.resume and list((args.work_dir / v).glob('*/vis_data/scalars.json')) \
            and (args.work_dir / v / 'stats.json').is_file()
        if not done:
            pending.append((v, build(v, args, data_root, tiles, epochs)))
    env = child_env(threads=1)
    running: list[tuple[str, subprocess.Popen]] = []
    failed = []
    while pending or running:
        while pending and len(running) < args.jobs:
            v, cfg_path = pending.pop(0)
            log(f'{v}: start ({cfg_path})')
            out = open(cfg_path.parent / 'train.log', 'w')
            running.append((v, subprocess.Popen(
                child_command(cfg_path), stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                env=env)))
        time.sleep(2)
        for v, proc in list(running):
            if proc.poll() is not None:
                running.remove((v, proc))
                log(f'{v}: exit {proc.returncode}')
                if proc.returncode:
                    failed.append(v)
    results = dict(command=command, date=datetime.date.today().isoformat(), seed=args.seed,
                   jobs=args.jobs, steps=ipe * epochs, runs={})
    for v in args.variants:
        if v not in failed:
            results['runs'][v] = summarise_run(read_scalars(args.work_dir / v))
    (args.work_dir / 'results.json').write_text(json.dumps(results, indent=2))
    write_marked_section(args.out, *MARKERS, render(results))
    print('\n' + render(results) + '\n', flush=True)
    if failed:
        raise SystemExit(f'runs failed: {failed} (see their train.log)')
    return results


if __name__ == '__main__':
    main()
