"""One pretraining run in a child process: train, time every epoch, save the backbone.

The parent (:func:`run_child`) starts ``python -m cmid_mm.benchmark CONFIG``
with its torch threads fixed, streams the child's epoch lines and reads the
``stats.json`` the child (:func:`train_one`) leaves beside ``backbone.pth``: wall and CPU
seconds of every epoch (the process and its data workers), the 1-min load average at each
epoch end, the first / last epoch mean of every logged loss term, peak memory.
:func:`run_cost` turns them into the tables' ``s_per_step`` and ``cpu_minutes``.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .methods import REPO

#: torch threads of the child (set by the parent)
THREADS_ENV = 'CMID_BENCHMARK_THREADS'
EPOCH_LINE = '[child_run] epoch'


def tree_cpu_seconds() -> float:
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


def train_one(config: Path) -> None:
    """Train one resolved config; write ``backbone.pth`` and ``stats.json`` next to it."""
    import torch
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    import cmid_mm  # noqa: F401  (registers CMID, LoadRSImage, ...; safe checkpoint types)

    from .run_config import dump_config

    class EpochTimer(Hook):
        """Wall and CPU time of each training epoch (data loading and workers included),
        and the machine's 1-min load average at its end."""

        def __init__(self) -> None:
            self.seconds: list[float] = []
            self.cpu_seconds: list[float] = []
            self.loadavg: list[float] = []
            self._start = self._cpu = 0.

        def before_train_epoch(self, runner) -> None:
            self._start, self._cpu = time.perf_counter(), tree_cpu_seconds()

        def after_train_epoch(self, runner) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.seconds.append(time.perf_counter() - self._start)
            self.cpu_seconds.append(tree_cpu_seconds() - self._cpu)
            self.loadavg.append(os.getloadavg()[0])
            print(f'{EPOCH_LINE} {runner.epoch + 1}/{runner.max_epochs}: '
                  f'{self.seconds[-1]:.1f} s wall, {self.cpu_seconds[-1]:.1f} s CPU, '
                  f'load {self.loadavg[-1]:.1f}', flush=True)

    threads = os.environ.get(THREADS_ENV)
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
        print(f'[child_run] model.loss_weights = {model.loss_weights}', flush=True)
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


def child_command(cfg_path: Path) -> list[str]:
    """The command line of one child run of ``cfg_path``."""
    return [sys.executable, '-m', 'cmid_mm.benchmark', str(cfg_path)]


def child_env(threads: int | None) -> dict[str, str]:
    """The child's environment: this one (it imports cmid_mm as this process does), with
    ``threads`` OpenMP / MKL / torch threads when given."""
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   **{THREADS_ENV: str(threads)})
    return env


def run_child(cfg_path: Path, run_dir: Path, label: str, threads: int | None,
              log: Callable[[str], None] = print) -> dict:
    """Run :func:`train_one` on ``cfg_path`` in a fresh process; stream its epoch lines to
    ``log`` and its whole output to ``<run_dir>/train.log``.

    Returns:
        The child's ``stats.json``.

    Raises:
        RuntimeError: the child failed; the message names its log and ends with its tail.
    """
    log_path = run_dir / 'train.log'
    with open(log_path, 'w') as log_file:
        proc = subprocess.Popen(child_command(cfg_path), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=REPO,
                                env=child_env(threads))
        for line in proc.stdout:
            log_file.write(line)
            if line.startswith(EPOCH_LINE):
                log(f'{label}: {line[len("[child_run] "):].strip()}')
        rc = proc.wait()
    if rc != 0:
        tail = ''.join(log_path.read_text().splitlines(keepends=True)[-25:])
        raise RuntimeError(f'{label} pretraining failed (exit {rc}); log: {log_path}\n{tail}')
    return json.loads((run_dir / 'stats.json').read_text())


def run_cost(stats: dict) -> dict:
    """``stats`` plus ``s_per_step`` (wall time per optimizer step after the first epoch,
    which also starts the workers; all epochs when there is one) and ``cpu_minutes`` (CPU
    time of the process and its workers)."""
    wall, cpu = stats['epoch_seconds'], stats['epoch_cpu_seconds']
    later = wall[1:] or wall
    return dict(stats, s_per_step=sum(later) / (len(later) * stats['iters_per_epoch']),
                cpu_minutes=sum(cpu) / 60)

