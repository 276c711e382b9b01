"""bf16 autocast without a loss scaler, as an optimizer wrapper.

mmengine's ``AmpOptimWrapper(dtype='bfloat16')`` autocasts to bf16 but still
runs a ``GradScaler`` (an unscale pass and a ``found_inf.item()`` host sync per
step) and refuses to build on CPU. bf16 has fp32's exponent range, so no loss
scaling is needed: :class:`BF16AutocastOptimWrapper` is a plain
``OptimWrapper`` whose ``optim_context`` adds ``torch.autocast(dtype=bfloat16)``
on the model's device. Our own (mmengine has no scaler-free AMP wrapper);
``tools/train.py --amp bf16`` selects it.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS
from torch import nn


def check_bf16_supported(device_type: str) -> None:
    """Fail early when ``device_type`` cannot autocast to bf16.

    Raises:
        ValueError: naming ``--amp bf16`` and the device.
    """
    if device_type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError('--amp bf16 (BF16AutocastOptimWrapper): device_type cuda, but no '
                             'CUDA device is visible to torch')
        if not torch.cuda.is_bf16_supported():
            raise ValueError(f'--amp bf16 (BF16AutocastOptimWrapper): '
                             f'{torch.cuda.get_device_name()} does not support bfloat16; use '
                             '--amp (fp16 with a dynamic loss scaler)')
    elif device_type != 'cpu':
        raise ValueError(f'--amp bf16 (BF16AutocastOptimWrapper): device_type must be cpu or '
                         f'cuda, got {device_type!r}')


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that runs the forward under bf16 autocast, no loss scaler.

    Args:
        device_type (str, optional): ``'cuda'`` or ``'cpu'``; default: CUDA when
            torch sees a CUDA device (as the Runner then places the model), else
            CPU. Checked at build (:func:`check_bf16_supported`).
        **kwargs: ``OptimWrapper``'s arguments.
    """

    def __init__(self, device_type: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.device_type = device_type or ('cuda' if torch.cuda.is_available() else 'cpu')
        check_bf16_supported(self.device_type)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper``'s context (gradient accumulation) plus bf16 autocast."""
        with super().optim_context(model), \
                torch.autocast(device_type=self.device_type, dtype=torch.bfloat16):
            yield
