"""Where the time of one CMID training step goes.

Runs real training steps of a CMID config (its data pipeline, model and
optimizer, as ``Runner`` builds them) and splits each into:

==================  =============================================================
``data_loading``    ``next(dataloader)``: file reading + CMID views + masks + collate
``preprocess``      ``CMIDDataPreprocessor``: normalise, mean-filled masked copies (and the
                    batched photometric ops of a device-views config)
``student_fwd``     the two masked student passes (``model.backbone``)
``teacher_fwd``     the two teacher passes (``model.teacher.module.backbone``)
``ema_update``      the teacher's EMA update (``model.teacher.update_parameters``)
``heads_losses``    MIM decoder + ``CMIDMIMHead.loss``, student and teacher projectors,
                    global contrastive loss, student and teacher local heads, local loss
``backward``        ``optim_wrapper.backward``
``optimizer``       ``optim_wrapper.step`` + ``zero_grad``
==================  =============================================================

The algorithm is not copied: module forward hooks and wrappers around the
public methods above time the real ``model.train_step``. The full step
(``next(dataloader)`` + ``train_step``) is timed separately; its ratio to the
sum of the parts shows what is left uninstrumented (position matching, queue
update, loss parsing, Python overhead, and on CUDA the cost of the
synchronisations that the timers add). Peak memory is
``torch.cuda.max_memory_allocated`` on CUDA, the peak RSS of the process on
CPU. The report also checks that the teacher runs without autograd.

FLOPs: after the measured steps, one more step runs under
``torch.utils.flop_counter.FlopCounterMode`` and every phase timer reads the
counter's total when it starts and stops, so each phase gets the FLOPs of the
operators that ran inside it (backward FLOPs land in ``backward``, about 2x the
forward of the student passes). The counter knows matmul, convolution and
attention kernels (2 FLOPs per multiply-add); element-wise work (norms,
activations, the optimizer and the EMA update) counts 0, so those phases
report 0 FLOPs and are limited by memory, not by compute. With
``--device cuda`` the report also gives achieved TFLOP/s per phase and for the
model time of the step (full step minus data loading), and their fraction of
``--peak-tflops`` (``--gpu h100`` or ``--gpu h200``: 989 TFLOP/s, the dense
bf16 tensor-core rate of both chips; fp32 without TF32 runs far below it).
``--no-flops`` skips the counting step.

Host syncs: one more step runs under ``cmid_mm.utils.host_sync.HostSyncRecorder``
and the report lists every Python-level device-to-host read it made (``.item()``,
``bool(tensor)``, value-shaped ops, ...) with the line that made it. A CMID step
needs one, the finite check of the losses (``CMID._all_finite``); on a GPU any
other stalls the host until the device catches up. ``--no-host-syncs`` skips it.

Example::

    python tools/analysis_tools/step_profile.py \\
        configs/cmid/cmid_resnet50_4xb64-adan-200e_millionaid.py --batch-size 8 --iters 3
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import time
from collections import defaultdict
from pathlib import Path

# dense bf16 tensor-core peak, TFLOP/s (vendor data sheets, SXM parts, no sparsity)
PEAK_TFLOPS = {'h100': 989.0, 'h200': 989.0}

# phase -> (label, timer keys summed into it)
PHASES = {
    'data_loading': ('data loading (next(dataloader))', ['data']),
    'preprocess': ('preprocess (views, normalise, masks)', ['preprocess']),
    'student_fwd': ('student passes (masked)', ['student_backbone']),
    'teacher_fwd': ('teacher passes (no_grad)', ['teacher_backbone']),
    'ema_update': ('teacher EMA update', ['ema_update']),
    'heads_losses': ('heads + losses', ['mim_decoder', 'mim_loss', 'projector',
                                        'teacher_projector', 'global_loss', 'local_head',
                                        'teacher_local_head', 'local_loss']),
    'backward': ('backward', ['backward']),
    'optimizer': ('optimizer step + zero_grad', ['optimizer_step', 'zero_grad']),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='CMID pretraining config')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--iters', type=int, default=3, help='measured iterations')
    p.add_argument('--warmup', type=int, default=1, help='unmeasured iterations first')
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    p.add_argument('--threads', type=int, default=None,
                   help="torch intra-op threads (default: torch's own choice)")
    p.add_argument('--num-workers', type=int, default=0,
                   help='dataloader workers; 0 (default) puts the whole data-side cost '
                   'into data_loading instead of hiding it behind the model')
    p.add_argument('--data-root', default=None,
                   help='image folder; default: the config\'s, or the real pretraining '
                   'tiles (build_pretrain_tiles()) when that folder does not exist')
    p.add_argument('--views', choices=['worker', 'device'], default=None,
                   help="move the views' photometric ops to the data workers or to the "
                   'device first (cmid_mm.utils.place_photometric; default: where the config '
                   'puts them). The device ops are timed inside the preprocess phase')
    p.add_argument('--amp', nargs='?', const='fp16', default=None, choices=['fp16', 'bf16'],
                   help='mixed precision as tools/train.py --amp: fp16 = AmpOptimWrapper with '
                   'a dynamic loss scale, bf16 = BF16AutocastOptimWrapper (no loss scaler)')
    p.add_argument('--no-flops', action='store_true',
                   help='skip the extra step that counts FLOPs per phase')
    p.add_argument('--peak-tflops', type=float, default=None,
                   help='peak rate to compare achieved TFLOP/s against (--device cuda)')
    p.add_argument('--gpu', choices=sorted(PEAK_TFLOPS), default=None,
                   help='shortcut for --peak-tflops: dense bf16 peak of the chip '
                   '(h100 989, h200 989 TFLOP/s)')
    p.add_argument('--no-host-syncs', action='store_true',
                   help='skip the extra step that records host syncs')
    p.add_argument('--json', default=None, help='also write the result to this JSON file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


class PhaseTimer:
    """Accumulates wall time per key from module hooks and method wrappers.

    While ``flop_counter`` (a ``torch.utils.flop_counter.FlopCounterMode``) is
    set and active, each key also accumulates the FLOPs counted between its
    start and stop, in ``flops``.
    """

    def __init__(self, sync) -> None:
        self.sync = sync
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.flops: dict[str, int] = defaultdict(int)
        self.grad_enabled: dict[str, list[bool]] = defaultdict(list)
        self._starts: dict[str, list[float]] = defaultdict(list)
        self._flop_starts: dict[str, list[int]] = defaultdict(list)
        self.enabled = True
        self.flop_counter = None

    def start(self, key: str) -> None:
        self.sync()
        if self.flop_counter is not None:
            self._flop_starts[key].append(self.flop_counter.get_total_flops())
        self._starts[key].append(time.perf_counter())

    def stop(self, key: str) -> None:
        self.sync()
        begin = self._starts[key].pop()
        if self.flop_counter is not None:
            self.flops[key] += self.flop_counter.get_total_flops() - self._flop_starts[key].pop()
        if self.enabled:
            self.seconds[key] += time.perf_counter() - begin
            self.calls[key] += 1

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self.grad_enabled.clear()

    def module(self, module, key: str) -> None:
        """Time every forward call of ``module``; remember whether autograd was on."""
        import torch

        def pre(_mod, _args):
            if self.enabled:
                self.grad_enabled[key].append(torch.is_grad_enabled())
            self.start(key)

        module.register_forward_pre_hook(pre)
        module.register_forward_hook(lambda _mod, _args, _out: self.stop(key))

    def method(self, obj, name: str, key: str) -> None:
        """Time every call of ``obj.name`` (instance attribute shadows the method)."""
        fn = getattr(obj, name)

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self.start(key)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stop(key)

        setattr(obj, name, timed)


def instrument(model, optim_wrapper, timer: PhaseTimer) -> None:
    """Attach the timers to a CMID model and its optimizer wrapper."""
    teacher = model.teacher.module
    timer.module(model.data_preprocessor, 'preprocess')
    timer.module(model.backbone, 'student_backbone')
    timer.module(teacher.backbone, 'teacher_backbone')
    timer.method(model.teacher, 'update_parameters', 'ema_update')
    timer.module(model.neck, 'mim_decoder')
    timer.method(model.head, 'loss', 'mim_loss')
    timer.module(model.projector, 'projector')
    timer.module(teacher.projector, 'teacher_projector')
    timer.method(model.global_head, 'cross_view_loss', 'global_loss')
    timer.module(model.local_head, 'local_head')
    timer.module(teacher.local_head, 'teacher_local_head')
    timer.module(model.local_loss, 'local_loss')
    timer.method(optim_wrapper, 'backward', 'backward')
    timer.method(optim_wrapper, 'step', 'optimizer_step')
    timer.method(optim_wrapper, 'zero_grad', 'zero_grad')


def _rss_mib() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def resolve_data_root(cfg, data_root: str | None) -> str:
    """The folder to read: ``--data-root``, the config's, or the real pretraining tiles."""
    if data_root:
        return data_root
    root = cfg.train_dataloader.dataset.get('data_root', '')
    if root and Path(root).is_dir():
        return root
    from cmid_mm.rsdata import build_pretrain_tiles
    tiles = str(build_pretrain_tiles() / 'rgb')
    print(f'[step_profile] {root or "(no data_root)"} does not exist: using the real '
          f'pretraining tiles {tiles}', flush=True)
    return tiles


def flop_rates(flops: dict[str, int], seconds: dict[str, float], model_time: float,
               peak_tflops: float | None = None) -> dict:
    """Achieved TFLOP/s per phase and over the step's model time.

    Args:
        flops: phase -> FLOPs of one step.
        seconds: phase -> seconds per step.
        model_time: seconds of the step without data loading.
        peak_tflops: the chip's peak; adds ``fraction_of_peak`` when given.

    Returns:
        dict: ``tflops`` (phase -> TFLOP/s, 0 for an untimed phase),
        ``step_tflops`` and maybe ``fraction_of_peak``.
    """
    tflops = {p: flops[p] / seconds[p] / 1e12 if seconds[p] > 0 else 0.0 for p in flops}
    step_tflops = sum(flops.values()) / model_time / 1e12 if model_time > 0 else 0.0
    out = dict(tflops=tflops, step_tflops=step_tflops)
    if peak_tflops:
        out['fraction_of_peak'] = step_tflops / peak_tflops
    return out


def set_amp(cfg, amp: str, device: str) -> None:
    """Switch ``cfg.optim_wrapper`` to fp16 AMP or bf16 autocast (``--amp``)."""
    kind = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if kind not in ('OptimWrapper', 'AmpOptimWrapper') or (amp == 'bf16' and
                                                          kind != 'OptimWrapper'):
        raise ValueError(f'--amp {amp}: the config\'s optim_wrapper.type is {kind!r}; '
                         '--amp replaces OptimWrapper')
    if amp == 'bf16':
        cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
        cfg.optim_wrapper.device_type = device
    else:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def _next_batch(loader, data_iter):
    """The next batch and the iterator; a small folder starts again."""
    try:
        return next(data_iter), data_iter
    except StopIteration:
        data_iter = iter(loader)
        return next(data_iter), data_iter


def profile(config: str, batch_size: int = 8, iters: int = 3, warmup: int = 1,
            device: str = 'cpu', num_workers: int = 0, data_root: str | None = None,
            cfg_options: dict | None = None, threads: int | None = None,
            views: str | None = None, count_flops: bool = True,
            peak_tflops: float | None = None, amp: str | None = None,
            count_syncs: bool = True) -> dict:
    """Profile ``iters`` CMID training steps after ``warmup`` unmeasured ones.

    Returns:
        dict: ``phases`` (phase -> mean seconds per iteration), ``calls``
        (phase -> calls per iteration), ``full_step``, ``sum_of_parts``,
        ``unattributed``, ``ratio`` (full / sum), ``peak_memory_mib``,
        ``memory_kind``, ``checks`` and the settings. With ``count_flops``
        also ``flops`` (phase -> FLOPs of one step, counted on one extra step),
        ``step_flops`` and ``model_time`` (full step - data loading); on CUDA
        also ``tflops`` (phase -> achieved TFLOP/s), ``step_tflops`` and, with
        ``peak_tflops``, ``fraction_of_peak``. With ``count_syncs`` also
        ``host_syncs`` (``per_step`` and ``sites``: ``'op at file:line (function)'``
        -> count, recorded on one extra step).
    """
    import torch
    from mmengine.config import Config
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401  (registers CMID and its transforms)

    if threads:
        torch.set_num_threads(threads)
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: no CUDA device is visible to torch')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.model.get('type') != 'CMID':
        raise ValueError(f'{config}: step_profile times CMID training steps, but the model '
                         f'type is {cfg.model.get("type")!r}')
    from cmid_mm.utils.view_placement import photometric_placement, place_photometric
    if views:
        place_photometric(cfg, views)
    if amp:
        set_amp(cfg, amp, device)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    # the optimizer builder warns once per frozen teacher parameter: keep stdout readable
    MMLogger.get_instance('step_profile', log_level='ERROR')
    torch.manual_seed(0)

    loader_cfg = cfg.train_dataloader.to_dict()
    loader_cfg.update(batch_size=batch_size, num_workers=num_workers,
                      persistent_workers=num_workers > 0, pin_memory=False)
    loader_cfg['dataset']['data_root'] = resolve_data_root(cfg, data_root)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    total = warmup + iters

    model = MODELS.build(cfg.model)
    model.init_weights()
    model = model.to(device).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', total + int(count_flops) + int(count_syncs))
    hub.update_info('epoch', 0)

    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    timer = PhaseTimer(sync)
    instrument(model, optim_wrapper, timer)
    data_iter = iter(loader)
    full_steps: list[float] = []
    rss_before = _rss_mib()
    for i in range(total):
        if i == warmup:
            timer.reset()
            if device == 'cuda':
                torch.cuda.reset_peak_memory_stats()
        timer.enabled = True
        hub.update_info('iter', i)
        sync()
        t0 = time.perf_counter()
        timer.start('data')
        batch, data_iter = _next_batch(loader, data_iter)
        timer.stop('data')
        model.train_step(batch, optim_wrapper)
        sync()
        if i >= warmup:
            full_steps.append(time.perf_counter() - t0)

    # memory of the measured steps, before the counting step
    if device == 'cuda':
        peak, kind = torch.cuda.max_memory_allocated() / 2**20, 'CUDA max allocated'
    else:
        peak, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'peak RSS'
    if count_flops:
        from torch.utils.flop_counter import FlopCounterMode
        timer.enabled = False
        hub.update_info('iter', total)
        batch = _next_batch(loader, data_iter)[0]
        with FlopCounterMode(display=False) as counter:
            timer.flop_counter = counter
            model.train_step(batch, optim_wrapper)
        timer.flop_counter = None
    sync_result = {}
    if count_syncs:
        from cmid_mm.utils.host_sync import HostSyncRecorder
        timer.enabled = False
        hub.update_info('iter', total + int(count_flops))
        batch, data_iter = _next_batch(loader, data_iter)
        with HostSyncRecorder() as recorder:
            model.train_step(batch, optim_wrapper)
        sync_result = dict(host_syncs=dict(per_step=recorder.count, sites=recorder.sites()))

    n = max(iters, 1)
    phases = {p: sum(timer.seconds[k] for k in keys) / n for p, (_, keys) in PHASES.items()}
    calls = {p: sum(timer.calls[k] for k in keys) / n for p, (_, keys) in PHASES.items()}
    full = sum(full_steps) / n
    parts = sum(phases.values())
    teacher_grad = timer.grad_enabled['teacher_backbone'] + \
        timer.grad_enabled['teacher_projector'] + timer.grad_enabled['teacher_local_head']
    teacher_params = list(model.teacher.parameters())
    img = batch['inputs'][0]
    flop_result = {}
    if count_flops:
        flops = {p: sum(timer.flops[k] for k in keys) for p, (_, keys) in PHASES.items()}
        step_flops = sum(flops.values())
        model_time = full - phases['data_loading']
        flop_result = dict(flops=flops, step_flops=step_flops, model_time=model_time,
                           peak_tflops=peak_tflops)
        if device == 'cuda':  # CPU timings of fp32 kernels say nothing about a peak
            flop_result.update(flop_rates(flops, phases, model_time, peak_tflops))
    return dict(**flop_result, **sync_result,
        config=str(config), views=photometric_placement(cfg), batch_size=batch_size, amp=amp,
        optim_wrapper=type(optim_wrapper).__name__,
        iters=iters, warmup=warmup, device=device,
        threads=torch.get_num_threads(), num_workers=num_workers,
        image_size=list(img.shape[-2:]), phases=phases, calls=calls,
        detail={k: v / n for k, v in sorted(timer.seconds.items())},
        full_step=full, sum_of_parts=parts, unattributed=full - parts,
        ratio=full / parts if parts > 0 else float('nan'),
        peak_memory_mib=peak, memory_kind=kind, rss_before_steps_mib=rss_before,
        checks=dict(
            teacher_passes_without_autograd=bool(teacher_grad) and not any(teacher_grad),
            teacher_params_frozen=not any(p.requires_grad for p in teacher_params),
            student_passes_per_iter=calls['student_fwd'],
            teacher_passes_per_iter=calls['teacher_fwd']))


def format_report(r: dict) -> str:
    """A plain-text table of :func:`profile`'s result."""
    h, w = r['image_size']
    flops = 'flops' in r
    rates = 'tflops' in r
    head = f'| {"phase":<40} | {"s / iter":>9} | {"% of step":>9} | {"calls / iter":>12} |'
    rule = f'|{"-" * 42}|{"-" * 10}:|{"-" * 10}:|{"-" * 13}:|'
    if flops:
        head += f' {"GFLOP":>9} |'
        rule += f'{"-" * 10}:|'
    if rates:
        head += f' {"TFLOP/s":>8} |'
        rule += f'{"-" * 9}:|'
    lines = [
        f'CMID step profile: {r["config"]}',
        f'batch {r["batch_size"]}, {h}x{w} px, device {r["device"]} ({r["threads"]} torch '
        f'thread{"s" * (r["threads"] != 1)}), {r["num_workers"]} dataloader workers, mean of '
        f'{r["iters"]} iterations after {r["warmup"]} warm-up; photometric ops in the '
        f'{"data workers" if r["views"] == "worker" else "preprocess phase (device)"}'
        + (f'; --amp {r["amp"]}' if r.get('amp') else ''),
        '',
        head,
        rule,
    ]
    for p, (label, _) in PHASES.items():
        sec = r['phases'][p]
        row = (f'| {label:<40} | {sec:>9.3f} | {100 * sec / r["full_step"]:>9.1f} | '
               f'{r["calls"][p]:>12.0f} |')
        if flops:
            row += f' {r["flops"][p] / 1e9:>9.2f} |'
        if rates:
            row += f' {r["tflops"][p]:>8.2f} |'
        lines.append(row)
    pad = f' {"":>9} |' * flops + f' {"":>8} |' * rates
    step_gflop = f' {r["step_flops"] / 1e9:>9.2f} |' if flops else ''
    step_rate = f' {r["step_tflops"]:>8.2f} |' if rates else ''
    lines += [
        f'| {"sum of the parts":<40} | {r["sum_of_parts"]:>9.3f} | '
        f'{100 * r["sum_of_parts"] / r["full_step"]:>9.1f} | {"":>12} |' + pad,
        f'| {"full step (data + train_step)":<40} | {r["full_step"]:>9.3f} | {100.0:>9.1f} | '
        f'{"":>12} |' + step_gflop + step_rate,
        '',
        f'ratio full step / sum of parts: {r["ratio"]:.3f} (unattributed '
        f'{r["unattributed"]:.3f} s: position matching, queue, loss parsing, Python)',
        f'peak memory: {r["memory_kind"]} {r["peak_memory_mib"]:.0f} MiB '
        f'(RSS before the first step {r["rss_before_steps_mib"]:.0f} MiB)',
        *_flop_lines(r),
        *_sync_lines(r),
        'checks: teacher passes without autograd: '
        f'{"yes" if r["checks"]["teacher_passes_without_autograd"] else "NO"}; teacher '
        f'weights frozen: {"yes" if r["checks"]["teacher_params_frozen"] else "NO"}',
    ]
    return '\n'.join(lines)


def _flop_lines(r: dict) -> list[str]:
    if 'flops' not in r:
        return []
    lines = [f'FLOPs of one step (torch.utils.flop_counter.FlopCounterMode; matmul, conv and '
             f'attention only): {r["step_flops"] / 1e9:.2f} GFLOP, '
             f'{r["step_flops"] / r["batch_size"] / 1e9:.2f} GFLOP per image']
    if 'step_tflops' in r:
        line = (f'achieved: {r["step_tflops"]:.2f} TFLOP/s over the model time '
                f'{r["model_time"]:.3f} s (full step - data loading)')
        if 'fraction_of_peak' in r:
            line += (f', {100 * r["fraction_of_peak"]:.1f} % of the peak '
                     f'{r["peak_tflops"]:.0f} TFLOP/s')
        lines.append(line)
    return lines


def _sync_lines(r: dict) -> list[str]:
    if 'host_syncs' not in r:
        return []
    hs = r['host_syncs']
    return [f'host syncs in one train_step: {hs["per_step"]} (the finite check of the '
            'losses is the one a CMID step needs)',
            *(f'  {n} x {site}' for site, n in hs['sites'].items()),
            *(['  (on a CPU the batched photometric ops index the samples each op runs on, '
               'since a sync costs nothing there; on a GPU they select with torch.where and '
               'make none: BatchPhotometric(sync_free=None))']
              if r['views'] == 'device' and r['device'] == 'cpu' else [])]


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.peak_tflops is not None and args.gpu is not None:
        raise ValueError('--peak-tflops and --gpu both give the peak: pass one of them')
    if args.peak_tflops is not None and args.peak_tflops <= 0:
        raise ValueError(f'--peak-tflops must be > 0, got {args.peak_tflops}')
    peak = args.peak_tflops if args.gpu is None else PEAK_TFLOPS[args.gpu]
    result = profile(args.config, args.batch_size, args.iters, args.warmup, args.device,
                     args.num_workers, args.data_root, args.cfg_options, args.threads,
                     args.views, count_flops=not args.no_flops, peak_tflops=peak,
                     amp=args.amp, count_syncs=not args.no_host_syncs)
    print(format_report(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    main()
