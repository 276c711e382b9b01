"""Optimizer step + teacher EMA time of a CMID config, multi-tensor vs loop.

Builds the config's CMID model and optimizer wrapper (the real parameter set:
student backbone, heads, paramwise groups of the schedule), gives every
trainable parameter a fixed random gradient and then times, alternating in
one run, ``optimizer.step()`` and ``model.teacher.update_parameters(student)``
with ``foreach=False`` (per-parameter loops: mmpretrain Adan's
``_single_tensor_adan``, mmpretrain ``CosineEMA``) and ``foreach=True``
(``_multi_tensor_adan``, :class:`cmid_mm.models.utils.ForeachCosineEMA`).
Alternating rounds keep both modes under the same machine load; the report is
the median per mode and the ratio loop / foreach.

Example::

    python tools/analysis_tools/optim_ema_bench.py \\
        configs/cmid/cmid_resnet50_4xb64-adan-200e_millionaid.py --rounds 5 --threads 1
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='CMID pretraining config (Adan + ForeachCosineEMA teacher)')
    p.add_argument('--rounds', type=int, default=5, help='timed rounds per mode')
    p.add_argument('--warmup', type=int, default=1, help='untimed rounds first')
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    p.add_argument('--threads', type=int, default=None, help='torch intra-op threads')
    p.add_argument('--json', default=None, help='also write the result to this JSON file')
    return p.parse_args(argv)


def bench(config: str, rounds: int = 5, warmup: int = 1, device: str = 'cpu',
          threads: int | None = None) -> dict:
    """Median seconds of the optimizer step and the EMA update per mode.

    Returns:
        dict: ``loop`` and ``foreach`` (each ``optimizer``, ``ema``, ``total``
        seconds), ``ratio`` (loop / foreach per part), ``params`` (trainable
        parameters), ``tensors`` (trainable tensors) and the settings.
    """
    import torch
    from mmengine.config import Config
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401
    from cmid_mm.models.utils import ForeachCosineEMA

    if threads:
        torch.set_num_threads(threads)
    cfg = Config.fromfile(config)
    if cfg.model.get('type') != 'CMID':
        raise ValueError(f'{config}: the model type is {cfg.model.get("type")!r}, not CMID')
    if cfg.optim_wrapper.optimizer.get('type') != 'Adan':
        raise ValueError(f'{config}: optim_wrapper.optimizer.type must be Adan, found '
                         f'{cfg.optim_wrapper.optimizer.get("type")!r}')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    MMLogger.get_instance('optim_ema_bench', log_level='ERROR')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device)
    if not isinstance(model.teacher, ForeachCosineEMA):
        raise ValueError(f'{config}: model.teacher.type must be ForeachCosineEMA, found '
                         f'{type(model.teacher).__name__}')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    opt = wrapper.optimizer
    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:
        p.grad = torch.randn_like(p) * 1e-3
    student = model._student()
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 10 * (warmup + rounds) + 10)
    model.teacher.update_parameters(student)  # step 0 is a copy in both modes
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)

    def timed(fn) -> float:
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0

    times = {m: dict(optimizer=[], ema=[]) for m in ('loop', 'foreach')}
    for r in range(warmup + rounds):
        for mode in ('loop', 'foreach'):
            for g in opt.param_groups:
                g['foreach'] = mode == 'foreach'
            model.teacher.foreach = mode == 'foreach'
            t_opt = timed(opt.step)
            t_ema = timed(lambda: model.teacher.update_parameters(student))
            if r >= warmup:
                times[mode]['optimizer'].append(t_opt)
                times[mode]['ema'].append(t_ema)
    out = {}
    for mode, t in times.items():
        o, e = statistics.median(t['optimizer']), statistics.median(t['ema'])
        out[mode] = dict(optimizer=o, ema=e, total=o + e)
    ratio = {k: out['loop'][k] / out['foreach'][k] for k in ('optimizer', 'ema', 'total')}
    return dict(config=str(config), device=device, threads=torch.get_num_threads(),
                rounds=rounds, warmup=warmup, params=sum(p.numel() for p in trainable),
                tensors=len(trainable), torch=torch.__version__, ratio=ratio, **out)


def format_report(r: dict) -> str:
    """A plain-text table of :func:`bench`'s result."""
    lines = [f'optimizer + EMA: {r["config"]}',
             f'{r["params"] / 1e6:.1f} M trainable parameters in {r["tensors"]} tensors, device '
             f'{r["device"]} ({r["threads"]} threads), median of {r["rounds"]} alternating '
             f'rounds after {r["warmup"]} warm-up, torch {r["torch"]}', '',
             '| part | loop s | foreach s | loop / foreach |', '|---|---:|---:|---:|']
    for k, label in (('optimizer', 'Adan step'), ('ema', 'teacher EMA update'),
                     ('total', 'total')):
        lines.append(f'| {label} | {r["loop"][k]:.4f} | {r["foreach"][k]:.4f} | '
                     f'{r["ratio"][k]:.2f} |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    result = bench(args.config, args.rounds, args.warmup, args.device, args.threads)
    print(format_report(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
