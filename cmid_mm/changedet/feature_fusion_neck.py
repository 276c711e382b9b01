"""Per-level fusion of the two feature pyramids of a siamese change detector."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

FUSION_POLICIES = ('concat', 'sum', 'diff', 'abs_diff')


@MODELS.register_module()
class FeatureFusionNeck(BaseModule):
    """Fuse the features of image A ("from") and image B ("to") level by level.

    open-cd 1.x compatible (same type name and arguments). For every pyramid
    level ``i`` with ``x1[i]``, ``x2[i]`` of shape (B, C_i, H_i, W_i):

    - ``'concat'``: ``cat([x1, x2], dim=1)`` -> (B, 2*C_i, H_i, W_i); a head
      after it needs ``in_channels`` doubled (BITHead splits it back in two);
    - ``'sum'``: ``x1 + x2``; ``'diff'``: ``x2 - x1``;
      ``'abs_diff'``: ``|x1 - x2|`` -> (B, C_i, H_i, W_i).

    Args:
        policy: one of ``'concat'``, ``'sum'``, ``'diff'``, ``'abs_diff'``.
        in_channels: unused, accepted for open-cd config compatibility.
        channels: unused, accepted for open-cd config compatibility.
        out_indices: which fused levels to return.
        init_cfg: mmengine init config (the neck has no weights).
    """

    def __init__(self,
                 policy: str,
                 in_channels: Sequence[int] | None = None,
                 channels: int | None = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if policy not in FUSION_POLICIES:
            raise ValueError(f'FeatureFusionNeck: unknown policy {policy!r}; '
                             f'expected one of {FUSION_POLICIES}')
        self.policy = policy
        self.in_channels = in_channels
        self.channels = channels
        self.out_indices = tuple(out_indices)

    @staticmethod
    def fusion(x1: Tensor, x2: Tensor, policy: str) -> Tensor:
        """Fuse one level: (B, C, H, W) x 2 -> (B, C or 2C, H, W)."""
        if policy == 'concat':
            return torch.cat([x1, x2], dim=1)
        if policy == 'sum':
            return x1 + x2
        if policy == 'diff':
            return x2 - x1
        if policy == 'abs_diff':
            return torch.abs(x1 - x2)
        raise ValueError(f'FeatureFusionNeck: unknown policy {policy!r}; '
                         f'expected one of {FUSION_POLICIES}')

    def forward(self, x1: Sequence[Tensor], x2: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """Fuse the two pyramids and keep the levels in ``out_indices``."""
        if len(x1) != len(x2):
            raise ValueError('FeatureFusionNeck: the backbone gave '
                             f'{len(x1)} levels for image A but {len(x2)} for image B')
        for level, (a, b) in enumerate(zip(x1, x2)):
            if a.shape != b.shape:
                raise ValueError(f'FeatureFusionNeck: level {level} has shape '
                                 f'{tuple(a.shape)} for image A but {tuple(b.shape)} '
                                 'for image B')
        if any(i >= len(x1) or i < -len(x1) for i in self.out_indices):
            raise IndexError(f'FeatureFusionNeck: out_indices {self.out_indices} out of '
                             f'range for {len(x1)} backbone levels')
        outs = [self.fusion(a, b, self.policy) for a, b in zip(x1, x2)]
        return tuple(outs[i] for i in self.out_indices)
