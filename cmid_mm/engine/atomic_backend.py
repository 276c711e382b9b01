"""A local file backend whose writes are atomic (checkpoints survive SIGKILL)."""
import os
import re
import tempfile
from pathlib import Path

from mmengine.fileio.backends import LocalBackend, register_backend

# ``tempfile.mkstemp(prefix=f'.{name}.', suffix='.tmp')`` names: '.epoch_3.pth.k2j_x9ab.tmp'
_TMP_NAME = re.compile(r'^\.(?P<target>.+)\.[A-Za-z0-9_]{8}\.tmp$')


def _current_umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:  # pragma: no cover - non-Linux
        pass
    mask = os.umask(0o022)  # pragma: no cover
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def remove_interrupted_writes(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files left by ``AtomicLocalBackend`` writes that never finished.

    A process killed (SIGKILL, OOM, pre-emption) between creating the
    temporary file and renaming it leaves ``.<name>.XXXXXXXX.tmp`` behind,
    as large as a checkpoint. Call this at the start of a run, on one
    process, before anything saves into ``directory``.

    Args:
        directory: Folder to clean (not recursive). A missing folder is fine.

    Returns:
        list[Path]: The files removed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for p in directory.iterdir():
        if _TMP_NAME.match(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return sorted(removed)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` that writes to a temporary file and renames it into place.

    mmengine's ``LocalBackend.put`` opens the target and writes into it, so a
    process killed mid-write leaves a truncated checkpoint under the final
    name. Here the bytes go to a temporary file in the same directory, are
    fsync'ed, and ``os.replace`` (atomic on POSIX) moves them over the target:
    a reader sees the old file or the complete new one, never a partial one.
    The file gets the mode a plain ``open()`` would give it (0666 minus the
    umask), not ``mkstemp``'s 0600. Temporary files of writes that were killed
    are removed at the next start by :func:`remove_interrupted_writes`
    (``tools/train.py`` does it).
    Select it with ``CheckpointHook(backend_args=dict(backend='atomic_local'))``.
    """

    def put(self, obj: bytes, filepath: str | Path) -> None:
        filepath = Path(filepath)
        filepath.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=filepath.parent, prefix=f'.{filepath.name}.',
                                   suffix='.tmp')
        try:
            with os.fdopen(fd, 'wb') as f:
                os.fchmod(f.fileno(), 0o666 & ~_current_umask())
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)
