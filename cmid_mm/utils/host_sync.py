"""Record the host syncs of a training step: the Python-level tensor calls that copy a
device value to the host (our own tool; torch has ``torch.cuda.set_sync_debug_mode``, which
needs a GPU and reports inside kernels without saying which line of the step asked).

On a GPU each such call waits for every kernel queued before it, so the host stops feeding
the device. A CMID step needs one (the finite check of its losses, ``CMID._all_finite``);
:class:`HostSyncRecorder` finds any other, on CPU, with the line that made it, so a test can
keep it that way (``tests/test_engine/test_host_syncs.py``) and ``step_profile.py`` can
report it for a config.

What it sees: ``item``, ``tolist``, ``numpy``, ``__bool__`` / ``__float__`` / ``__int__`` /
``__index__`` (``if t:``, ``float(t)``, ``range(t)``), ``torch.equal`` / ``allclose``, the
ops whose output size depends on values (``nonzero``, ``argwhere``, ``masked_select``,
``unique``, one-argument ``torch.where``, indexing with a boolean tensor) and a ``.cpu()`` /
``.to('cpu')`` of a non-CPU tensor. What it does not see: syncs inside C++ (a pageable
host-to-device copy, cuDNN benchmark) and work outside the recorded block.
"""
from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

#: calls that always copy a value to the host
_VALUE_CALLS = {'item', 'tolist', 'numpy', '__bool__', '__float__', '__int__', '__index__',
                'equal', 'allclose', 'is_nonzero'}
#: calls whose output shape depends on the values (the device must finish first)
_SHAPE_CALLS = {'nonzero', 'argwhere', 'masked_select', 'unique', 'unique_consecutive'}
_HERE = Path(__file__).resolve()
_TORCH = Path(torch.__file__).resolve().parent


@dataclass(frozen=True)
class HostSync:
    """One recorded call: the op and the first frame outside torch that made it."""
    op: str
    where: str  # 'path/file.py:line (function)'


def _is_bool_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index, )
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


def _to_host(name: str, args: tuple, kwargs: dict) -> bool:
    """``t.cpu()`` / ``t.to('cpu')`` of a tensor that is not on the CPU."""
    if not args or not isinstance(args[0], torch.Tensor) or args[0].device.type == 'cpu':
        return False
    if name == 'cpu':
        return True
    target = kwargs.get('device', args[1] if len(args) > 1 else None)
    return isinstance(target, (str, torch.device)) and torch.device(target).type == 'cpu'


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename).resolve()
        if path == _HERE or _TORCH in path.parents:
            continue
        short = '/'.join(path.parts[-2:])
        return f'{short}:{frame.lineno} ({frame.name})'
    return '?'


class HostSyncRecorder(TorchFunctionMode):
    """A ``TorchFunctionMode`` that records every host sync made inside its ``with`` block.

    Example::

        with HostSyncRecorder() as rec:
            model.train_step(batch, optim_wrapper)
        rec.count, rec.sites()  # 1, {'algorithms/cmid.py:281 (_all_finite)': 1}
    """

    def __init__(self) -> None:
        super().__init__()
        self.events: list[HostSync] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, '__name__', '')
        if (name in _VALUE_CALLS or name in _SHAPE_CALLS
                or (name == 'where' and len(args) + len(kwargs) == 1)
                or (name in ('__getitem__', '__setitem__') and len(args) > 1
                    and _is_bool_index(args[1]))
                or (name in ('cpu', 'to') and _to_host(name, args, kwargs))):
            self.events.append(HostSync(name, _caller()))
        return func(*args, **kwargs)

    @property
    def count(self) -> int:
        """Host syncs recorded."""
        return len(self.events)

    def sites(self) -> dict[str, int]:
        """``'op at where'`` -> how many times, in first-seen order."""
        return dict(Counter(f'{e.op} at {e.where}' for e in self.events))
