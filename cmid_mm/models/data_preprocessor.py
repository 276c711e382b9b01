"""Batched normalisation and mean-filled masked copies for CMID."""
from collections.abc import Sequence

import numpy as np
import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from .heads.mim_head import upsample_mask


def _stack_field(data_samples: Sequence, name: str, device: torch.device) -> torch.Tensor:
    values = [getattr(ds, name) for ds in data_samples]
    if isinstance(values[0], np.ndarray):
        values = [torch.from_numpy(v) for v in values]
    return torch.stack(values).to(device)


@MODELS.register_module()
class CMIDDataPreprocessor(SelfSupDataPreprocessor):
    """Normalise CMID's two views and make their masked copies on the device.

    Training batches from :class:`~cmid_mm.datasets.CMIDMultiView` +
    ``PackInputs(algorithm_keys=['grid', 'mask'])`` become::

        inputs = dict(
            img=[A, B],           # normalised views, each (B, C, H, W)
            masked_img=[A~, B~],  # masked pixels set to the image's per-band mean
            mask=[mA, mB],        # block masks (B, h, w), 1 = masked
            grid=[gA, gB])        # cell centres (B, N*N, 2), original pixels

    The per-band mean is taken per image after normalisation (CMID's
    ``mask_color='mean'``), on the whole batch at once. Anything else (a
    single-view batch, e.g. for feature extraction) is only normalised.
    All arguments are those of mmpretrain's ``SelfSupDataPreprocessor``.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        out = super().forward(data, training)
        inputs, data_samples = out['inputs'], out['data_samples']
        if not (isinstance(inputs, list) and data_samples and hasattr(data_samples[0], 'mask')):
            return out
        if len(inputs) != 2:
            raise ValueError(f'CMID expects 2 views per image, got {len(inputs)}')
        masks = _stack_field(data_samples, 'mask', inputs[0].device)  # (B, 2, h, w)
        grids = _stack_field(data_samples, 'grid', inputs[0].device).float()  # (B, 2, L, 2)
        masked = []
        for v, img in enumerate(inputs):
            pix = upsample_mask(masks[:, v], img.shape[-2:])  # (B, 1, H, W)
            mean = img.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
            masked.append(img * (1. - pix) + mean * pix)
        out['inputs'] = dict(
            img=inputs, masked_img=masked, mask=[masks[:, 0], masks[:, 1]],
            grid=[grids[:, 0], grids[:, 1]])
        return out
