"""Where built datasets live, and how a build is made atomic and skipped when complete.

Each dataset is built in ``<root>/.<name>.tmp-*`` and renamed to
``<root>/<name>`` once its record ``<name>/_build.json`` (the completion
marker) is written. A folder whose record names the current
:data:`BUILDER_VERSION` is complete and is not rebuilt unless forced.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ['BUILDER_VERSION', 'MARKER', 'PathLike', 'default_data_root', 'read_build_info',
           'atomic_build', 'is_complete', 'resolve_root']

PathLike = str | Path

BUILDER_VERSION = 'v1'
MARKER = '_build.json'


def default_data_root() -> Path:
    """``$CMID_DATA_ROOT`` or ``~/.cache/cmid-mm/data/<BUILDER_VERSION>``."""
    env = os.environ.get('CMID_DATA_ROOT')
    if env:
        return Path(env).expanduser()
    return Path('~/.cache/cmid-mm/data').expanduser() / BUILDER_VERSION


def resolve_root(root: PathLike | None) -> Path:
    """``root`` as a path, or :func:`default_data_root` when None."""
    return Path(root).expanduser() if root is not None else default_data_root()


def read_build_info(path: PathLike) -> dict:
    """The ``_build.json`` record of a built dataset folder."""
    marker = Path(path) / MARKER
    if not marker.is_file():
        raise FileNotFoundError(f'{marker}: no build record; build the dataset first')
    return json.loads(marker.read_text())


def is_complete(folder: Path, name: str) -> bool:
    """Whether ``folder`` holds a finished build of ``name`` by this builder version."""
    try:
        info = read_build_info(folder)
    except (FileNotFoundError, ValueError):
        return False
    return info.get('name') == name and info.get('builder_version') == BUILDER_VERSION


def atomic_build(root: PathLike | None, name: str, fill: Callable[[Path], dict],
                 force: bool) -> Path:
    """Run ``fill(tmp_dir) -> record`` in a temp dir under ``root`` and rename it
    to ``root/name`` once the record (the completion marker) is written.

    Returns:
        ``root/name``; returned at once when it is already complete (and not
        ``force``), also when a concurrent build finished first.
    """
    root = resolve_root(root)
    target = root / name
    if not force and is_complete(target, name):
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{name}.tmp-', dir=root))
    try:
        record = {'name': name, 'builder_version': BUILDER_VERSION, **fill(tmp)}
        (tmp / MARKER).write_text(json.dumps(record, indent=1))
        if target.exists():
            if not force and is_complete(target, name):  # a concurrent build finished first
                shutil.rmtree(tmp)
                return target
            stale = root / f'.{name}.old-{uuid.uuid4().hex[:8]}'
            os.rename(target, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if is_complete(target, name):
                shutil.rmtree(tmp, ignore_errors=True)
                return target
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
