"""Random rescaling and padding of an image pair (``MultiImgRandomResize``, ``MultiImgPad``)."""
from __future__ import annotations

import mmcv
import numpy as np
from mmcv.transforms import Pad, RandomResize
from mmseg.registry import TRANSFORMS

from .geometric import _check_pair


@TRANSFORMS.register_module()
class MultiImgRandomResize(RandomResize):
    """mmcv ``RandomResize`` whose inner resize is ``MultiImgResize``: one scale for the pair.

    The target scale is drawn once (mmcv's ``_random_scale``: from
    ``ratio_range`` times ``scale``, or between two scales) and applied to both
    images and every seg map.

    Args:
        scale: (w, h), or two (w, h) bounds when ``ratio_range`` is None.
        ratio_range: (min, max) factor applied to ``scale``.
        resize_type: the resize transform to build (default ``MultiImgResize``).
        **resize_kwargs: its other arguments (``keep_ratio``...).
    """

    def __init__(self, scale, ratio_range: tuple[float, float] | None = None,
                 resize_type: str = 'MultiImgResize', **resize_kwargs) -> None:
        self.scale = scale
        self.ratio_range = ratio_range
        self.resize_cfg = dict(type=resize_type, **resize_kwargs)
        # built from mmseg's registry, where the pair transforms live
        self.resize = TRANSFORMS.build({'scale': 0, **self.resize_cfg})


@TRANSFORMS.register_module()
class MultiImgPad(Pad):
    """mmcv ``Pad`` of both images (bottom/right) and every seg map to one size.

    Args:
        size: fixed (w, h) to pad to.
        size_divisor: pad height and width up to multiples of it.
        pad_to_square: pad to a square (combinable with ``size_divisor``).
        pad_val: ``dict(img=..., seg=...)`` or a number for the images (seg 255).
        padding_mode: ``'constant'``, ``'edge'``, ``'reflect'`` or ``'symmetric'``.

    Added keys: ``pad_shape``, ``pad_fixed_size``, ``pad_size_divisor``.
    """

    def _target(self, shape: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the padded images for images of (h, w) ``shape``."""
        size = None
        if self.pad_to_square:
            side = max(shape)
            size = (side, side)
        if self.size_divisor is not None:
            h, w = size if size is not None else shape
            size = (int(np.ceil(h / self.size_divisor)) * self.size_divisor,
                    int(np.ceil(w / self.size_divisor)) * self.size_divisor)
        elif self.size is not None:
            size = tuple(self.size[::-1])
        return size

    def transform(self, results: dict) -> dict:
        """Pad A, B to the same target and the seg maps to the padded shape."""
        imgs = _check_pair(results, type(self).__name__)
        size = self._target(imgs[0].shape[:2])
        if size[0] < imgs[0].shape[0] or size[1] < imgs[0].shape[1]:
            raise ValueError(f'MultiImgPad: the images are {imgs[0].shape[:2]} (h, w), larger '
                             f'than the padding target {size}')
        pad_val = self.pad_val.get('img', 0)
        padded = []
        for img in imgs:
            value = pad_val
            if isinstance(value, (int, float)) and img.ndim == 3:
                value = tuple(value for _ in range(img.shape[2]))
            padded.append(mmcv.impad(img, shape=size, pad_val=value,
                                     padding_mode=self.padding_mode))
        seg_val = self.pad_val.get('seg', 255)
        for key in results.get('seg_fields', []):
            results[key] = mmcv.impad(results[key], shape=size, pad_val=seg_val,
                                      padding_mode=self.padding_mode)
        results['img'] = padded
        results['img_shape'] = padded[0].shape[:2]
        results['pad_shape'] = padded[0].shape
        results['pad_fixed_size'] = self.size
        results['pad_size_divisor'] = self.size_divisor
        return results
