"""A record of the images ``LoadRSImage`` skipped, shared by every process of a run.

Dataloader workers are separate processes (re-created every epoch unless
``persistent_workers``), so a Python counter cannot sum their skips. Instead
each skip appends one JSON line ``{"path": ..., "problem": ...}`` to
``<folder>/skipped-<pid>.jsonl``, where ``<folder>`` is named by the
environment variable :data:`BAD_IMAGE_DIR_ENV`. The variable is set by
:class:`~cmid_mm.engine.hooks.BadImageCountHook` before training starts, so
every worker (forked or spawned later) inherits it; without it nothing is
written. The hook counts the lines at each epoch end.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ['BAD_IMAGE_DIR_ENV', 'record_bad_image', 'read_bad_images']

BAD_IMAGE_DIR_ENV = 'CMID_BAD_IMAGE_DIR'


def record_bad_image(path: str, problem: str) -> bool:
    """Append one skipped image to this process's record file.

    Returns:
        True if recorded, False when no record folder is set.
    """
    folder = os.environ.get(BAD_IMAGE_DIR_ENV)
    if not folder:
        return False
    line = json.dumps({'path': str(path), 'problem': problem}) + '\n'
    # one write() of a short line in append mode: lines of different processes never interleave
    with open(Path(folder) / f'skipped-{os.getpid()}.jsonl', 'a', encoding='utf-8') as f:
        f.write(line)
    return True


def read_bad_images(folder: str | Path) -> list[dict]:
    """Every complete record line in ``folder`` (files in name order, lines in write order)."""
    out = []
    for file in sorted(Path(folder).glob('skipped-*.jsonl')):
        for line in file.read_text(encoding='utf-8').splitlines(keepends=True):
            if not line.endswith('\n'):
                continue  # a write cut short by a killed worker
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out
