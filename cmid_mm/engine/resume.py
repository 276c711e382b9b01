"""Pick the checkpoint ``--resume`` continues from: the newest complete one, or an error."""
import os
import re
import zipfile
from pathlib import Path

from cmid_mm.utils.checkpoint import safe_load_checkpoint

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


class NothingToResumeError(FileNotFoundError):
    """``--resume`` was asked for but the work dir holds no usable checkpoint."""


def checkpoint_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a complete checkpoint, or ``None`` if it is.

    torch writes checkpoints as zip archives; a file cut short by a crash,
    a full disk or a copy that stopped half-way fails the archive's
    directory or CRC checks. Reading the CRCs does not unpickle anything.
    Files in torch's legacy (non-zip) format are test-loaded with
    ``weights_only=True`` instead.

    Args:
        path: Checkpoint file.

    Returns:
        str | None: A one-line reason, or ``None`` for a complete file.
    """
    path = Path(path)
    if not path.is_file():
        return 'does not exist'
    if path.stat().st_size == 0:
        return 'empty file (0 bytes)'
    with open(path, 'rb') as f:
        is_zip = f.read(4) == b'PK\x03\x04'  # also a zip whose end (directory) is cut off
    if not is_zip:
        try:
            safe_load_checkpoint(path)
        except (ValueError, OSError) as e:
            return str(e).split(' -- ')[0]
        return None
    try:
        with zipfile.ZipFile(path) as z:
            if not any(n.endswith('data.pkl') for n in z.namelist()):
                return 'zip archive without data.pkl: not a torch checkpoint'
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return f'truncated or corrupt ({type(e).__name__}: {e})'
    if bad is not None:
        return f'corrupt: CRC mismatch in {bad}'
    return None


def _candidates(work_dir: Path) -> list[Path]:
    """``last_checkpoint``'s target first, then epoch_N/iter_N files, newest first."""
    out: list[Path] = []
    dirs = [work_dir]
    pointer = work_dir / 'last_checkpoint'
    if pointer.is_file():
        target = Path(pointer.read_text().strip())
        if not target.is_absolute():
            target = work_dir / target
        out.append(target)
        dirs.append(target.parent)  # CheckpointHook(out_dir=...) saves elsewhere
    found = {p for d in dirs if d.is_dir() for p in d.iterdir() if _CKPT_NAME.match(p.name)}

    def key(p: Path) -> tuple[int, float]:
        return int(_CKPT_NAME.match(p.name).group(2)), p.stat().st_mtime
    out += sorted(found - set(out), key=key, reverse=True)
    return out


def find_resume_checkpoint(work_dir: str | os.PathLike) -> tuple[str, list[tuple[str, str]]]:
    """The newest complete checkpoint in ``work_dir`` and the newer ones that were not.

    Looks at the file ``last_checkpoint`` (written by mmengine's
    ``CheckpointHook``) and at every ``epoch_N.pth`` / ``iter_N.pth`` in the
    work dir (and in the folder ``last_checkpoint`` points to), newest first,
    and returns the first that passes :func:`checkpoint_problem`.

    Args:
        work_dir: The run's work dir.

    Returns:
        tuple: ``(path, skipped)`` where ``skipped`` lists ``(path, reason)``
        of the newer checkpoints that are truncated or corrupt.

    Raises:
        NothingToResumeError: No checkpoint at all, or none complete.
    """
    work_dir = Path(work_dir)
    skipped: list[tuple[str, str]] = []
    for cand in _candidates(work_dir):
        problem = checkpoint_problem(cand)
        if problem is None:
            return str(cand), skipped
        skipped.append((str(cand), problem))
    if not skipped:
        raise NothingToResumeError(
            f'--resume: nothing to resume in {work_dir}: no last_checkpoint file and no '
            'epoch_*.pth / iter_*.pth checkpoint. Run without --resume to start from '
            'scratch, or pass --resume PATH/TO/CHECKPOINT.pth.')
    raise NothingToResumeError(
        f'--resume: no complete checkpoint in {work_dir}: '
        + '; '.join(f'{p}: {r}' for p, r in skipped))
