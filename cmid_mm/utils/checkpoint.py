"""Safe checkpoint loading on torch >= 2.6 (``weights_only=True``).

mmengine 0.10.7 saves a few non-tensor objects in its checkpoints (the
message hub's ``HistoryBuffer`` and numpy scalars/arrays inside it), which
``torch.load(weights_only=True)`` - the default since torch 2.6 - refuses, so
``--resume`` breaks. We allow exactly those types with
``torch.serialization.add_safe_globals`` instead of ``weights_only=False``,
which would let a checkpoint file run arbitrary code.
"""
import os

import numpy as np
import torch


def _mmengine_types() -> list:
    from mmengine.logging.history_buffer import HistoryBuffer
    types = [HistoryBuffer, np.ndarray, np.dtype, np.core.multiarray._reconstruct,
             np.core.multiarray.scalar]
    # numpy >= 1.25 pickles dtypes by their class (np.dtypes.Float64DType, ...)
    types += [type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64,
                                          np.int32, np.int16, np.int8, np.uint8, np.bool_)]
    return types


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list the types mmengine writes into checkpoints (idempotent)."""
    torch.serialization.add_safe_globals(_mmengine_types())


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
    allow_mmengine_checkpoint_types()
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # pickle.UnpicklingError, RuntimeError, EOFError, ...
        raise ValueError(
            f'cannot load checkpoint {path}: {type(e).__name__}: {e}. Only tensors and the types '
            'mmengine writes are allowed (weights_only=True); a file that carries other pickled '
            'objects is refused on purpose.') from e
    if not isinstance(ckpt, dict):
        raise ValueError(f'checkpoint {path} holds a {type(ckpt).__name__}, expected a dict')
    return ckpt
