"""Safe checkpoint loading on torch >= 2.6 (``weights_only=True``).

mmengine 0.10.7 saves a few non-tensor objects in its checkpoints (the
message hub's ``HistoryBuffer`` and numpy scalars/arrays inside it), which
``torch.load(weights_only=True)`` - the default since torch 2.6 - refuses, so
``--resume`` breaks. We allow exactly those types with
``torch.serialization.add_safe_globals`` instead of turning ``weights_only`` off,
which would let a checkpoint file run arbitrary code. Checkpoints written by
a process that did not import ``cmid_mm`` pickle ``HistoryBuffer`` through
``builtins.getattr`` and stay refused (load them once in a trusted session
and re-save, or train with this package's tools).
"""
import copyreg
import os

import numpy as np
import torch

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray


def _reduce_history_buffer(buf):
    """Pickle a HistoryBuffer as ``HistoryBuffer(log, count, max_length)``.

    By default it pickles references to its statistics methods through
    ``builtins.getattr``, which ``weights_only=True`` rightly refuses (and
    which we will not allow-list). Rebuilding through the constructor needs
    only the class and numpy arrays.
    """
    return type(buf), (buf._log_history, buf._count_history, buf.max_length)


def _mmengine_types() -> list:
    from mmengine.logging.history_buffer import HistoryBuffer
    types = [HistoryBuffer, np.ndarray, np.dtype, _multiarray._reconstruct, _multiarray.scalar]
    # numpy >= 1.25 pickles dtypes by their class (np.dtypes.Float64DType, ...)
    types += [type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64,
                                          np.int32, np.int16, np.int8, np.uint8, np.bool_)]
    return types


def allow_mmengine_checkpoint_types() -> None:
    """Make mmengine checkpoints loadable with ``weights_only=True`` (idempotent).

    Registers a constructor-based pickling of ``HistoryBuffer`` for the
    checkpoints this process writes, and allow-lists exactly the classes
    those checkpoints contain.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals(_mmengine_types())


def weights_only_load(f, map_location=None, name: str | None = None, **kwargs):
    """``torch.load(f, weights_only=True)`` whatever the caller or the environment asks.

    ``weights_only`` is always passed explicitly, so torch's
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (which only changes the default) has
    no effect, and a caller asking to turn weights_only off, or a ``pickle_module``, is
    ignored. The mmengine checkpoint types are allow-listed first.

    Args:
        f: A path or a file-like object.
        map_location: As for ``torch.load``.
        name: How to name the source in errors (defaults to ``f`` for paths).
        **kwargs: Other ``torch.load`` keyword arguments (``mmap``, ...).

    Returns:
        The loaded object.

    Raises:
        ValueError: The source is truncated, not a checkpoint, or carries a
            pickled object outside the allow-list; the message names it.
    """
    kwargs.pop('weights_only', None)
    kwargs.pop('pickle_module', None)
    if name is None:
        name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else \
            getattr(f, 'name', f'<{type(f).__name__} stream>')
    allow_mmengine_checkpoint_types()
    try:
        return torch.load(f, map_location=map_location, weights_only=True, **kwargs)
    except FileNotFoundError:
        raise
    except Exception as e:  # pickle.UnpicklingError, RuntimeError, EOFError, ...
        detail = str(e)
        # torch's own text suggests turning weights_only off; keep only the reason
        reason = [ln.strip() for ln in detail.splitlines() if 'GLOBAL' in ln]
        reason = reason[0] if reason else detail.splitlines()[0] if detail else ''
        raise ValueError(
            f'cannot load checkpoint {name}: {type(e).__name__}: {reason} -- checkpoints are '
            'loaded with weights_only=True (tensors and the types mmengine writes only); '
            'a truncated file or one carrying other pickled objects is refused.') from e


def safe_load_checkpoint(path: str | os.PathLike, map_location: str = 'cpu') -> dict:
    """Load a checkpoint with ``weights_only=True`` and a clear error.

    Args:
        path: Checkpoint file.
        map_location: Where tensors go. Defaults to ``'cpu'``.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not a loadable checkpoint, e.g. it is
            truncated or holds a pickled object outside the allow-list.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    ckpt = weights_only_load(path, map_location=map_location)
    if not isinstance(ckpt, dict):
        raise ValueError(f'checkpoint {path} holds a {type(ckpt).__name__}, expected a dict')
    return ckpt
