"""``--resume`` of a benchmark run: reuse a finished run only if its saved config is the one
this call would run (our own).

A run's work dir holds the resolved ``config.py`` of the call that trained it, beside the
files that call left (``stats.json``, ``backbone.pth``, ``eval.json``, ...). A later call with
``--resume`` may reuse them only if it would run exactly that config: another ``--iters``,
width, seed, recipe or init checkpoint path gives another config text, and then the run is
trained again, its old outputs removed first so that none of them (an old ``eval.json``
above all) can be read as the new run's.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .run_config import dump_config

CONFIG = 'config.py'


def reuse_finished_run(cfg, run_dir: Path, finished: Sequence[str], resume: bool,
                       outputs: Sequence[str] = ()) -> bool:
    """Write ``cfg`` as ``run_dir/config.py`` and say whether the run there can be reused.

    The config is dumped once (:func:`~.run_config.dump_config`) beside the saved one
    (``config.new.py``), compared with it as text, and then moved into place, so the run
    dir always holds the config this call runs. A run is reused when ``resume`` is set,
    the saved ``config.py`` existed with the same text, and every file of ``finished`` is
    there. Otherwise every file of ``finished`` and ``outputs`` is removed: the caller
    trains the run again.

    Args:
        cfg (mmengine.Config): The resolved config this call would run.
        run_dir: The run's work dir (created if missing).
        finished: Names of the files (in ``run_dir``) a finished run has, e.g.
            ``('stats.json', 'backbone.pth')``.
        resume: ``--resume``: reuse a finished run with the same config at all.
        outputs: Names of further files derived from the run (e.g. ``'eval.json'``); not
            needed for reuse (a finished run whose evaluation is missing is reused and only
            scored), removed with ``finished`` when the run is not reused.

    Returns:
        True: the finished run (and whichever ``outputs`` it has) belongs to ``cfg``.
        False: it does not, or there is none; the stale files are gone.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / CONFIG
    fresh = dump_config(cfg, run_dir / 'config.new.py')
    reused = (resume and saved.is_file() and fresh.read_text() == saved.read_text()
              and all((run_dir / f).is_file() for f in finished))
    fresh.replace(saved)
    if not reused:
        for name in (*finished, *outputs):
            (run_dir / name).unlink(missing_ok=True)
    return reused
