"""Batched normalisation and mean-filled masked copies for CMID."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from torch import nn

from .heads.mim_head import upsample_mask


class BandCountError(ValueError):
    """The band count of the data, the config or the weights disagree."""


def _sample_paths(data_samples: Sequence | None, limit: int = 3) -> str:
    paths = [ds.metainfo.get('img_path') for ds in (data_samples or [])[:limit]
             if hasattr(ds, 'metainfo')]
    paths = [str(p) for p in paths if p]
    return f' (first images: {", ".join(paths)})' if paths else ''


def backbone_in_channels(backbone: nn.Module | dict) -> int | None:
    """Input bands of a ResNet (``conv1`` / deep ``stem``) or Swin (``patch_embed``)
    backbone, built or as a config dict; None when unknown."""
    if isinstance(backbone, dict):
        value = backbone.get('in_channels')
        return None if value is None else int(value)
    for name in ('patch_embed.projection', 'stem.0.conv', 'stem.0', 'conv1'):
        module = backbone.get_submodule(name) if _has_submodule(backbone, name) else None
        if isinstance(module, nn.Conv2d):
            return int(module.in_channels)
    value = getattr(backbone, 'in_channels', None)
    return int(value) if isinstance(value, int) else None


def _has_submodule(module: nn.Module, name: str) -> bool:
    try:
        module.get_submodule(name)
    except AttributeError:
        return False
    return True


def check_backbone_bands(preprocessor: nn.Module, backbone: nn.Module | dict,
                         where: str = 'model') -> None:
    """Refuse a config whose normalisation statistics have another band count than
    the backbone's input channels (``model.data_preprocessor.mean``/``std`` vs
    ``model.backbone.in_channels``), at build time instead of as a conv shape
    error at the first batch.

    Raises:
        BandCountError: naming both keys and both counts.
    """
    bands = getattr(preprocessor, 'num_bands', None)
    channels = backbone_in_channels(backbone)
    if bands is not None and channels is not None and bands not in (1, channels):
        raise BandCountError(
            f'{where}.data_preprocessor mean/std have {bands} values (bands) but '
            f'{where}.backbone.in_channels={channels}: give one mean/std value per band '
            f'({channels}), or build the backbone with in_channels={bands}')


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
    All arguments are those of mmpretrain's ``SelfSupDataPreprocessor``,
    except that ``mean`` / ``std`` may have one value per band for any band
    count (mmengine's class only accepts 1 or 3), e.g. 13 for Sentinel-2.
    A batch whose band count differs from the number of ``mean`` values is
    refused with a :class:`BandCountError` naming its first files.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 *args, **kwargs) -> None:
        if (mean is None) != (std is None):
            raise ValueError('CMIDDataPreprocessor: give both mean and std or neither, got '
                             f'mean={mean}, std={std}')
        if mean is not None and len(mean) != len(std):
            raise BandCountError(f'CMIDDataPreprocessor: mean has {len(mean)} values but std '
                                 f'has {len(std)}; give one value per band in both')
        n_bands = None if mean is None else len(mean)
        rgb = n_bands in (1, 3)
        super().__init__(mean if rgb else None, std if rgb else None, *args, **kwargs)
        if mean is not None and not rgb:
            if self._channel_conversion:
                raise ValueError(f'CMIDDataPreprocessor: to_rgb / bgr_to_rgb / rgb_to_bgr swap '
                                 f'3 channels, but mean/std have {n_bands} bands')
            self._enable_normalize = True
            self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(std).view(-1, 1, 1), False)
        self.num_bands = n_bands

    def _check_bands(self, data: dict) -> None:
        inputs = data.get('inputs')
        views = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        for view in views:
            if isinstance(view, torch.Tensor) and view.dim() == 4:
                found = view.shape[1]
            elif isinstance(view, (list, tuple)) and view and isinstance(view[0], torch.Tensor):
                found = view[0].shape[0]
            else:
                continue
            if self.num_bands not in (None, 1) and found != self.num_bands:
                raise BandCountError(
                    f'the batch has {found} band(s) but model.data_preprocessor mean/std have '
                    f'{self.num_bands}{_sample_paths(data.get("data_samples"))}: read the '
                    f'images with LoadRSImage(bands=...) giving {self.num_bands} bands, or '
                    f'set one mean/std value per band ({found})')

    def forward(self, data: dict, training: bool = False) -> dict:
        self._check_bands(data)
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
