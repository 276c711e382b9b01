"""ResNet student of CMID: stock mmpretrain ResNet plus a stage-0 mask token."""
from collections.abc import Sequence

import torch
from mmpretrain.models.backbones import ResNet
from mmpretrain.registry import MODELS

from .mask_token import MaskTokenMixin


@MODELS.register_module()
class CMIDResNet(MaskTokenMixin, ResNet):
    """mmpretrain ``ResNet`` with CMID's mask token after the stem.

    The token (``stem_channels`` wide) is added where ``mask`` is 1 after
    stem + max-pool (stride 4), before ``layer1``. Apart from ``mask_token``
    the state dict is key-for-key that of the stock ``ResNet``, so exported
    weights load into stock mmpretrain / mmseg / mmdet configs.

    ``channels_last=True`` keeps the weights and the activations in
    ``torch.channels_last`` (NHWC) memory layout: the weights are converted
    here (so the EMA teacher, a copy of the student, and every in-place
    init / ``load_state_dict`` / EMA update keep it) and the input on entry
    to :meth:`forward`. On GPUs with tensor cores cuDNN's NHWC convolutions
    avoid layout transposes; the arithmetic is the same (a float64 CMID step
    gives the same losses and gradients, ``tests/test_models/test_channels_last.py``).
    Checkpoints hold the same keys and values (strides differ, which loading
    into a stock ``ResNet`` ignores).

    Args:
        replace (bool): Replace masked features by the token instead of adding
            it. Defaults to False (CMID's residual form).
        channels_last (bool): NHWC weights and activations. Defaults to False.
        **kwargs: Arguments of :class:`mmpretrain.models.ResNet` (``depth``,
            ``in_channels``, ``out_indices``, ...).
    """

    def __init__(self, depth: int, replace: bool = False, channels_last: bool = False,
                 **kwargs) -> None:
        if not isinstance(channels_last, bool):
            raise ValueError(f'model.backbone.channels_last must be True or False, got '
                             f'{channels_last!r}')
        super().__init__(depth=depth, **kwargs)
        self._init_mask_token(self.stem_channels, replace)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor,
                mask: torch.Tensor | None = None) -> Sequence[torch.Tensor]:
        """Features of (masked) images.

        Args:
            x (Tensor): Images (B, C, H, W).
            mask (Tensor, optional): Block mask (B, H/4, W/4); None runs the
                stock forward.

        Returns:
            tuple[Tensor]: Maps of the ``out_indices`` stages.
        """
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if mask is None:
            return super().forward(x)
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.apply_mask_token(self.maxpool(x), mask)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
