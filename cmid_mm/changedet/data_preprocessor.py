"""Data preprocessor for image pairs stacked on the channel axis."""
from __future__ import annotations

from collections.abc import Sequence
from numbers import Number
from typing import Any

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS


@MODELS.register_module()
class DualInputSegDataPreProcessor(SegDataPreProcessor):
    """mmseg :class:`SegDataPreProcessor` for (2*C, H, W) image pairs (open-cd compatible).

    Inputs come from ``MultiImgPackSegInputs``: image A in channels ``0..C-1``,
    image B in ``C..2C-1``. ``mean``/``std`` list one value per *stacked*
    channel, i.e. the per-image statistics twice (``[m_r, m_g, m_b] * 2``).
    ``bgr_to_rgb``/``rgb_to_bgr`` reverse the channel order of *each* 3-channel
    image (mmseg's own only does it for 3-channel inputs). Padding to ``size``
    / ``size_divisor``, normalisation, batching and ``test_cfg`` padding are
    mmseg's.

    Args:
        mean, std, size, size_divisor, pad_val, seg_pad_val, batch_augments,
        test_cfg: as in mmseg ``SegDataPreProcessor``.
        bgr_to_rgb: reverse channels of each 3-channel image before normalising.
        rgb_to_bgr: same operation (both just reverse the order).
    """

    def __init__(self,
                 mean: Sequence[Number] | None = None,
                 std: Sequence[Number] | None = None,
                 size: tuple | None = None,
                 size_divisor: int | None = None,
                 pad_val: Number = 0,
                 seg_pad_val: Number = 255,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 batch_augments: list[dict] | None = None,
                 test_cfg: dict | None = None) -> None:
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError('DualInputSegDataPreProcessor: `bgr_to_rgb` and `rgb_to_bgr` '
                             'cannot both be True')
        if (mean is None) != (std is None):
            raise ValueError('DualInputSegDataPreProcessor: give both `mean` and `std` '
                             '(one value per stacked channel) or neither')
        if mean is not None and len(mean) != len(std):
            raise ValueError(f'DualInputSegDataPreProcessor: mean has {len(mean)} values '
                             f'but std has {len(std)}')
        super().__init__(
            mean=mean, std=std, size=size, size_divisor=size_divisor, pad_val=pad_val,
            seg_pad_val=seg_pad_val, bgr_to_rgb=False, rgb_to_bgr=False,
            batch_augments=batch_augments, test_cfg=test_cfg)
        self.swap_rgb = bgr_to_rgb or rgb_to_bgr

    def forward(self, data: dict, training: bool = False) -> dict[str, Any]:
        """Reverse colour order per image if asked, then mmseg's normalise/pad/stack."""
        data = self.cast_data(data)
        inputs = data['inputs']
        if self._enable_normalize and inputs[0].shape[0] != self.mean.shape[0]:
            raise ValueError(
                f'DualInputSegDataPreProcessor: inputs have {inputs[0].shape[0]} channels but '
                f'mean/std list {self.mean.shape[0]} values; for an image pair give the '
                'per-image statistics twice, e.g. mean=[123.675, 116.28, 103.53] * 2')
        if self.swap_rgb:
            channels = inputs[0].shape[0]
            if channels % 3:
                raise ValueError(f'DualInputSegDataPreProcessor: bgr_to_rgb needs 3-channel '
                                 f'images, but the stacked input has {channels} channels')
            order = torch.arange(channels).view(-1, 3).flip(-1).flatten()  # [2,1,0,5,4,3]
            data['inputs'] = [x[order] for x in inputs]
        return super().forward(data, training)
