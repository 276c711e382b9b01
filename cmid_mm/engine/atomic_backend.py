"""A local file backend whose writes are atomic (checkpoints survive SIGKILL)."""
import os
import tempfile
from pathlib import Path

from mmengine.fileio.backends import LocalBackend, register_backend


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` that writes to a temporary file and renames it into place.

    mmengine's ``LocalBackend.put`` opens the target and writes into it, so a
    process killed mid-write leaves a truncated checkpoint under the final
    name. Here the bytes go to a temporary file in the same directory, are
    fsync'ed, and ``os.replace`` (atomic on POSIX) moves them over the target:
    a reader sees the old file or the complete new one, never a partial one.
    Select it with ``CheckpointHook(backend_args=dict(backend='atomic_local'))``.
    """

    def put(self, obj: bytes, filepath: str | Path) -> None:
        filepath = Path(filepath)
        filepath.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=filepath.parent, prefix=f'.{filepath.name}.',
                                   suffix='.tmp')
        try:
            with os.fdopen(fd, 'wb') as f:
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
