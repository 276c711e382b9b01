"""Multi-tensor (``torch._foreach_*``) version of mmpretrain's ``CosineEMA``.

mmengine's ``BaseAveragedModel.update_parameters`` calls ``avg_func`` once per
parameter: for a ResNet-50 CMID teacher that is ~160 tensors, each with two
element-wise kernels (``mul_`` then ``add_``) and a cosine-momentum
computation, so on a GPU the EMA costs hundreds of tiny kernel launches per
step. :class:`ForeachCosineEMA` computes the momentum once and updates all
floating-point parameters with two multi-tensor kernels. It is our own code
(neither mmengine nor mmpretrain ships a multi-tensor EMA); the arithmetic is
``CosineEMA.avg_func``'s, element for element, so the teacher is bit-identical
to ``CosineEMA``'s (``tests/test_models/test_foreach_ema.py``).

No host sync per step: mmengine keeps the update count in the buffer
``steps``, a device tensor, and ``CosineEMA`` branches on it (``steps == 0``,
``steps % interval``) and takes ``cos(pi * steps / T)`` of it, three
device-to-host copies per step on a GPU, each of which waits for the queued
work. :class:`ForeachCosineEMA` keeps a host copy of the count (read from the
buffer once, and again after a ``load_state_dict``) and only increments the
buffer on the device, so the checkpoint layout is unchanged.
"""
from __future__ import annotations

from math import cos, pi

import numpy as np
import torch
from mmengine.logging import MessageHub
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from torch import nn


def cosine_ema_momentum(momentum: float, end_momentum: float, steps: int,
                        max_iters: int) -> float:
    """``CosineEMA``'s momentum (weight of the student) at update ``steps``.

    ``m = m_end - (m_end - m_start) * (cos(pi * k / K) + 1) / 2``, the formula
    of ``mmpretrain.models.utils.CosineEMA.avg_func``, to the bit: there ``k``
    is mmengine's ``steps`` buffer (a long tensor), so ``pi * k / K`` is
    computed in float32 before ``math.cos``; here the same float32 rounding is
    done on the host (NumPy scalars), without reading a device tensor.
    """
    ratio = np.float32(pi) * np.float32(steps) / np.float32(max_iters)
    cosine_annealing = (cos(float(ratio)) + 1) / 2
    return end_momentum - (end_momentum - momentum) * cosine_annealing


@MODELS.register_module()
class ForeachCosineEMA(CosineEMA):
    """``CosineEMA`` whose update is two ``torch._foreach_*`` kernels.

    Same arguments and state as ``CosineEMA`` (a drop-in ``type`` change in
    ``model.teacher``); ``foreach=False`` falls back to the parent's
    per-parameter loop.

    Args:
        foreach (bool): Use the multi-tensor update. Defaults to True.
        **kwargs: ``CosineEMA``'s arguments (``model``, ``momentum``,
            ``end_momentum``, ``interval``, ``device``, ``update_buffers``).
    """

    def __init__(self, *args, foreach: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(foreach, bool):
            raise ValueError(f'model.teacher.foreach must be True or False, got {foreach!r}')
        self.foreach = foreach
        self._host_steps: int | None = None  # host copy of the ``steps`` buffer

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._host_steps = None  # a loaded ``steps`` (resume): read it again

    def host_steps(self) -> int:
        """The update count as a Python int (one device-to-host copy per run or load)."""
        if self._host_steps is None:
            self._host_steps = int(self.steps)
        return self._host_steps

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Average ``model``'s parameters into the teacher (see ``CosineEMA``).

        Args:
            model (nn.Module): The student whose parameters are averaged.
        """
        steps = self.host_steps()
        if not self.foreach or steps == 0:
            super().update_parameters(model)  # the copy at step 0 (mmengine's code)
            self._host_steps = steps + 1
            return
        src = model.state_dict() if self.update_buffers else dict(model.named_parameters())
        if steps % self.interval == 0:
            avg, new = [], []
            for k, p_avg in self.avg_parameters.items():
                if p_avg.dtype.is_floating_point:
                    avg.append(p_avg.data)
                    new.append(src[k].data.to(p_avg.device))
            max_iters = MessageHub.get_current_instance().get_info('max_iters')
            m = cosine_ema_momentum(self.momentum, self.end_momentum, steps, max_iters)
            # CosineEMA.avg_func: averaged.mul_(1 - m).add_(source, alpha=m), all at once
            torch._foreach_mul_(avg, 1 - m)
            torch._foreach_add_(avg, new, alpha=m)
        if not self.update_buffers:
            for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
                b_avg.data.copy_(b_src.data.to(b_avg.device))
        self.steps += 1  # on the device, no copy back
        self._host_steps = steps + 1
