"""FC-EF, FC-Siam-conc, FC-Siam-diff (Daudt, Le Saux & Boulch, ICIP 2018): dual-input backbones.

Fully convolutional U-Nets for change detection, with open-cd 1.x's type names
and arguments (``in_channels``, ``base_channel``), used with
``DIEncoderDecoder`` and a 1x1 ``FCNHead`` (``num_convs=0``). With
``b = base_channel`` the encoder has four stages of 2, 2, 3, 3 conv3x3-BN-ReLU-
Dropout(0.2) layers with b, 2b, 4b, 8b channels, each followed by 2x2 max
pooling; the decoder mirrors it with stride-2 transposed convolutions and skip
connections. The three variants differ only in fusion:

- ``FC_EF``: early fusion, the dates are concatenated on channels at the input
  (its ``in_channels`` counts both dates, 6 for RGB pairs, as in open-cd);
- ``FC_Siam_conc``: shared encoder per date, skips = both dates' features concatenated;
- ``FC_Siam_diff``: shared encoder per date, skips = ``|f_A - f_B|``.

Output: a 1-tuple with the (B, b, H, W) feature map (no classifier; the
head maps it to classes). Parameter names are ours (not open-cd's ``conv11``...).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

ENC_DEPTHS = (2, 2, 3, 3)


def _conv_block(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch),
                         nn.ReLU(inplace=True), nn.Dropout2d(p=0.2))


def _stage(in_ch: int, channels: list[int]) -> nn.Sequential:
    layers = []
    for out_ch in channels:
        layers.append(_conv_block(in_ch, out_ch))
        in_ch = out_ch
    return nn.Sequential(*layers)


class FCNetBase(BaseModule):
    """Shared U-Net of the three FC variants; ``fusion`` in ``'ef' | 'conc' | 'diff'``.

    Args:
        in_channels: channels of one image (Siam variants) or of the stacked
            pair (``FC_EF``).
        base_channel: width ``b`` of the first stage.
        init_cfg: mmengine init config.
    """

    fusion = 'ef'

    def __init__(self, in_channels: int = 3, base_channel: int = 16,
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels < 1 or base_channel < 1:
            raise ValueError(f'{type(self).__name__}: in_channels and base_channel must be '
                             f'positive, got {in_channels}, {base_channel}')
        self.in_channels = in_channels
        f = [base_channel * 2**i for i in range(4)]  # b, 2b, 4b, 8b
        self.encoder = nn.ModuleList()
        for i, depth in enumerate(ENC_DEPTHS):
            self.encoder.append(_stage(in_channels if i == 0 else f[i - 1], [f[i]] * depth))
        skip_mult = 2 if self.fusion == 'conc' else 1
        # decoder stage i (from deep to shallow): up-conv, concat skip, convs
        self.upconvs = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for i in reversed(range(4)):
            self.upconvs.append(nn.ConvTranspose2d(f[i], f[i], 3, stride=2, padding=1,
                                                   output_padding=1))
            in_ch = f[i] + skip_mult * f[i]
            if i == 0:
                self.decoder.append(nn.Sequential(_conv_block(in_ch, f[0]),
                                                  nn.Conv2d(f[0], f[0], 3, padding=1)))
            else:
                outs = [f[i]] * (ENC_DEPTHS[i] - 1) + [f[i - 1]]
                self.decoder.append(_stage(in_ch, outs))

    def _encode(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        """(B, C, H, W) -> (4 skip features before pooling, pooled deepest feature)."""
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
            x = F.max_pool2d(x, kernel_size=2, stride=2)
        return skips, x

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor]:
        """x1, x2 (B, C, H, W) -> ((B, base_channel, H, W), )."""
        if x1.shape != x2.shape:
            raise ValueError(f'{type(self).__name__}: the two images have shapes '
                             f'{tuple(x1.shape)} and {tuple(x2.shape)}')
        if self.fusion == 'ef':
            pair = torch.cat([x1, x2], dim=1)
            if pair.shape[1] != self.in_channels:
                raise ValueError(f'FC_EF: in_channels={self.in_channels} but the stacked pair '
                                 f'has {pair.shape[1]} channels (give in_channels=2*C)')
            skips, x = self._encode(pair)
        else:
            skips1, x = self._encode(x1)
            skips2, x = self._encode(x2)  # the deepest pooled feature of date B goes on
            if self.fusion == 'conc':
                skips = [torch.cat([a, b], dim=1) for a, b in zip(skips1, skips2)]
            else:
                skips = [torch.abs(a - b) for a, b in zip(skips1, skips2)]
        for up, dec, skip in zip(self.upconvs, self.decoder, reversed(skips)):
            x = up(x)
            # odd sizes: pad the upsampled map (replicate) to the skip's size
            dh, dw = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
            if dh or dw:
                x = F.pad(x, (0, dw, 0, dh), mode='replicate')
            x = dec(torch.cat([x, skip], dim=1))
        return (x, )


@MODELS.register_module()
class FC_EF(FCNetBase):  # noqa: N801 - open-cd's public name
    """FC-EF: early fusion, one U-Net on the pair (``in_channels`` = 2*C, e.g. 6)."""

    fusion = 'ef'


@MODELS.register_module()
class FC_Siam_conc(FCNetBase):  # noqa: N801 - open-cd's public name
    """FC-Siam-conc: shared encoder, skips concatenate the two dates."""

    fusion = 'conc'


@MODELS.register_module()
class FC_Siam_diff(FCNetBase):  # noqa: N801 - open-cd's public name
    """FC-Siam-diff: shared encoder, skips are the absolute feature differences."""

    fusion = 'diff'
