"""Refuse the Adan option pair whose multi-tensor step is wrong in mmpretrain.

``mmpretrain.engine.optimizers.Adan`` takes its multi-tensor step by default
(``foreach=True``). With ``no_prox=True`` that step (``_multi_tensor_adan``,
mmpretrain 1.2) only applies the weight decay and never adds the update, so
the weights never learn; the loop step (``foreach=False``) is right. Found by
``tests/test_engine/test_foreach_adan.py``, which also checks that the
default pair (``no_prox=False``) matches the loop.
"""
from __future__ import annotations

from collections.abc import Mapping


def check_adan_foreach(optim_wrapper: Mapping) -> None:
    """Fail early on ``Adan(foreach=True, no_prox=True)``.

    Args:
        optim_wrapper: the config's ``optim_wrapper`` dict.

    Raises:
        ValueError: naming ``optim_wrapper.optimizer.no_prox`` and ``foreach``.
    """
    opt = optim_wrapper.get('optimizer') or {}
    if opt.get('type') != 'Adan':
        return
    if opt.get('no_prox', False) and opt.get('foreach', True):
        raise ValueError(
            'optim_wrapper.optimizer: Adan with no_prox=True and foreach=True (the default) '
            "takes mmpretrain's multi-tensor step, which skips the update (only the weight "
            'decay is applied). Set optim_wrapper.optimizer.foreach=False with no_prox=True, '
            'or no_prox=False.')
