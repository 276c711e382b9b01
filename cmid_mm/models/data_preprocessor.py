"""Batched normalisation and mean-filled masked copies for CMID."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from torch import nn

from .heads.mim_head import upsample_mask
from .utils.batch_photometric import BatchPhotometric


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

    Two options move work from the data workers to the training device (new in
    cmid-mm; the per-image path stays the default):

    - ``uint16_scale``: integer inputs other than uint8 (e.g. uint16 Sentinel-2 DN)
      are divided by it after the cast to float, before anything else: the rule of
      ``LoadRSImage(uint16_scale=...)``, so the workers can keep the 2-byte integers
      (``LoadRSImage()`` without scale) and the statistics stay on reflectance.
      Float and uint8 inputs are left as they are.
    - ``view_batch_augments``: one list of photometric op configs per view (the dicts
      a ``CMIDMultiView`` view pipeline takes, e.g. ``[[], view_b]``), run on the
      batch before normalisation in training (:class:`BatchPhotometric`: per-sample
      parameters from the same distributions as the per-image ops). The views'
      pipelines in ``CMIDMultiView`` must then leave those ops out. An op without a
      batched version, or a bad argument, is refused at build naming the key.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 *args, uint16_scale: float | None = None,
                 view_batch_augments: Sequence[Sequence[dict]] | None = None,
                 **kwargs) -> None:
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
        if uint16_scale is not None and not (isinstance(uint16_scale, (int, float))
                                             and not isinstance(uint16_scale, bool)
                                             and uint16_scale > 0):
            raise ValueError('model.data_preprocessor.uint16_scale must be a positive number '
                             f'or None, got {uint16_scale!r}')
        self.uint16_scale = None if uint16_scale is None else float(uint16_scale)
        self.view_batch_augments = self._build_view_augments(view_batch_augments)

    @staticmethod
    def _build_view_augments(cfg: Sequence[Sequence[dict]] | None) -> nn.ModuleList | None:
        if cfg is None:
            return None
        key = 'model.data_preprocessor.view_batch_augments'
        if isinstance(cfg, (str, dict)) or not all(isinstance(v, (list, tuple)) for v in cfg):
            raise ValueError(f'{key} must be one list of op configs per view (e.g. '
                             f'[[], view_b]), got {cfg!r}')
        if len(cfg) != 2:
            raise ValueError(f'{key} must have one list per CMID view (2), got {len(cfg)}')
        return nn.ModuleList(BatchPhotometric(ops, f'{key}[{v}]') for v, ops in enumerate(cfg))

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

    def _scale_augment_normalise(self, data: dict, training: bool) -> dict:
        """mmpretrain's ``SelfSupDataPreprocessor.forward`` with the ``uint16_scale`` cast and
        the views' batched photometric ops between the cast to float and normalisation."""
        inputs, data_samples = self.cast_data([data['inputs'], data.get('data_samples')])
        views = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        augment = (training and self.view_batch_augments is not None
                   and isinstance(inputs, (list, tuple)))
        if augment and len(views) != len(self.view_batch_augments):
            raise ValueError(f'model.data_preprocessor.view_batch_augments has '
                             f'{len(self.view_batch_augments)} view lists but the batch has '
                             f'{len(views)} views')
        out = []
        for v, view in enumerate(views):
            if self._channel_conversion:
                view = view[:, [2, 1, 0], ...]
            image_dtype = view.dtype
            view = view.float()
            if (self.uint16_scale is not None and not image_dtype.is_floating_point
                    and image_dtype != torch.uint8):
                view = view / self.uint16_scale
                image_dtype = torch.float32  # the ops then see reflectance, as in the workers
            if augment and len(self.view_batch_augments[v].ops):
                view = self.view_batch_augments[v](view, image_dtype)
            if self._enable_normalize:
                view = (view - self.mean) / self.std
            out.append(view)
        return {'inputs': out if isinstance(inputs, (list, tuple)) else out[0],
                'data_samples': data_samples}

    def forward(self, data: dict, training: bool = False) -> dict:
        self._check_bands(data)
        if self.uint16_scale is None and self.view_batch_augments is None:
            out = super().forward(data, training)
        else:
            out = self._scale_augment_normalise(data, training)
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
