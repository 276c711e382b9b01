"""SNUNet-CD with ECAM (Fang et al., IEEE GRSL 2021): dual-input backbone ``SNUNet_ECAM``.

"SNUNet-CD: A Densely Connected Siamese Network for Change Detection of VHR
Images". A siamese encoder (shared weights) feeds a UNet++ of densely nested
skip nodes; the four full-resolution outputs are fused by the ensemble channel
attention module (ECAM). open-cd 1.x type name and arguments (``in_channels``,
``base_channel``), used with ``DIEncoderDecoder`` and a 1x1 ``FCNHead`` on
``4 * base_channel`` channels. Parameter names are ours.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

LEVELS = 5  # encoder levels 0..4 (strides 1..16)


class NestedBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + the first conv's output, -> ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        """(B, in_ch, H, W) -> (B, out_ch, H, W)."""
        identity = self.conv1(x)
        x = self.bn2(self.conv2(F.relu(self.bn1(identity))))
        return F.relu(x + identity)


class ChannelAttention(nn.Module):
    """CBAM-style channel attention: sigmoid(MLP(avgpool) + MLP(maxpool)), (B, C, 1, 1)."""

    def __init__(self, channels: int, ratio: int) -> None:
        super().__init__()
        hidden = max(channels // ratio, 1)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(),
                                 nn.Conv2d(hidden, channels, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> attention weights (B, C, 1, 1) in (0, 1)."""
        return torch.sigmoid(self.mlp(F.adaptive_avg_pool2d(x, 1)) +
                             self.mlp(F.adaptive_max_pool2d(x, 1)))


@MODELS.register_module()
class SNUNet_ECAM(BaseModule):  # noqa: N801 - open-cd's public name
    """SNUNet-CD: siamese UNet++ encoder-decoder with ECAM, one change feature map.

    With ``f_i = base_channel * 2**i``: encoder nodes ``X[i][0]`` (i = 0..4,
    ``NestedBlock`` after 2x2 max pooling) run on each date with shared
    weights; nested nodes ``X[i][j]`` (j >= 1, i + j <= 4) see both dates'
    ``X[i][0]``, the earlier nodes ``X[i][1..j-1]`` and the 2x transposed-conv
    upsampling of ``X[i+1][j-1]`` (from date B for j = 1). ECAM: with
    ``out = cat(X[0][1..4])`` and ``intra = sum(X[0][1..4])``,
    ``out = CA(out) * (out + repeat(CA(intra), 4))``.

    Args:
        in_channels: channels of one image.
        base_channel: ``f_0``.
        init_cfg: defaults to Kaiming-normal (fan_out) convolutions and unit BN.

    Input: x1, x2 (B, C, H, W) with H, W divisible by 16.
    Output: ``((B, 4 * base_channel, H, W), )``.
    """

    def __init__(self, in_channels: int = 3, base_channel: int = 32,
                 init_cfg: dict | list | None = None) -> None:
        if init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer='Conv2d', mode='fan_out',
                             nonlinearity='relu', distribution='normal'),
                        dict(type='Constant', layer='BatchNorm2d', val=1, bias=0)]
        super().__init__(init_cfg=init_cfg)
        f = [base_channel * 2**i for i in range(LEVELS)]
        self.encoder = nn.ModuleList(
            NestedBlock(in_channels if i == 0 else f[i - 1], f[i]) for i in range(LEVELS))
        # nodes[f'{i}_{j}'] and ups[f'{i}_{j}'] (upsampling of node i+1, j-1 into level i)
        self.nodes = nn.ModuleDict()
        self.ups = nn.ModuleDict()
        for j in range(1, LEVELS):
            for i in range(LEVELS - j):
                self.ups[f'{i}_{j}'] = nn.ConvTranspose2d(f[i + 1], f[i + 1], 2, stride=2)
                self.nodes[f'{i}_{j}'] = NestedBlock(f[i] * (j + 1) + f[i + 1], f[i])
        self.ca_intra = ChannelAttention(f[0], ratio=4)
        self.ca = ChannelAttention(f[0] * 4, ratio=16)

    def _encode(self, x: Tensor, levels: int) -> list[Tensor]:
        feats = []
        for i in range(levels):
            x = self.encoder[i](x if i == 0 else F.max_pool2d(x, 2))
            feats.append(x)
        return feats

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor]:
        """x1, x2 (B, C, H, W) -> ((B, 4 * base_channel, H, W), )."""
        if x1.shape != x2.shape:
            raise ValueError(f'SNUNet_ECAM: the two images have shapes {tuple(x1.shape)} '
                             f'and {tuple(x2.shape)}')
        if x1.shape[-2] % 16 or x1.shape[-1] % 16:
            raise ValueError(f'SNUNet_ECAM: height and width must be divisible by 16, got '
                             f'{tuple(x1.shape[-2:])} (pad with size_divisor=32)')
        feats_a = self._encode(x1, LEVELS - 1)  # the deepest level of A is never used
        feats_b = self._encode(x2, LEVELS)
        grid = {(i, 0): feats_b[i] for i in range(LEVELS)}
        for j in range(1, LEVELS):
            for i in range(LEVELS - j):
                parts = [feats_a[i], feats_b[i]] + [grid[(i, k)] for k in range(1, j)]
                parts.append(self.ups[f'{i}_{j}'](grid[(i + 1, j - 1)]))
                grid[(i, j)] = self.nodes[f'{i}_{j}'](torch.cat(parts, dim=1))
        tops = [grid[(0, j)] for j in range(1, LEVELS)]
        out = torch.cat(tops, dim=1)
        intra = self.ca_intra(torch.stack(tops).sum(dim=0))
        return (self.ca(out) * (out + intra.repeat(1, len(tops), 1, 1)), )
