"""Geometric transforms of an image pair: one random draw, applied to both images and the mask.

Each class is the mmseg/mmcv single-image transform of the same argument list
(mmseg ``RandomCrop`` and ``RandomFlip``, mmcv ``Resize``), with ``transform`` drawing the
random parameters *once* (the ``@cache_randomness`` method of the parent) and
applying them to every image of ``results['img']`` and every map of
``results['seg_fields']``. Names and arguments are open-cd 1.x's.
"""
from __future__ import annotations

from collections.abc import Callable

import mmcv
import numpy as np
from mmcv.image.geometric import _scale_size
from mmcv.transforms import BaseTransform, Resize
from mmcv.transforms.utils import cache_randomness
from mmseg.datasets.transforms import RandomCrop, RandomFlip, RandomRotate
from mmseg.registry import TRANSFORMS


def _check_pair(results: dict, name: str) -> list[np.ndarray]:
    imgs = results.get('img')
    if not isinstance(imgs, (list, tuple)) or not imgs:
        raise TypeError(f'{name} expects results["img"] to be a list of images (A, B) '
                        f'as loaded by MultiImgLoadImageFromFile, got {type(imgs).__name__}')
    return list(imgs)


def _apply(results: dict, img_fn: Callable[[np.ndarray], np.ndarray],
           seg_fn: Callable[[np.ndarray], np.ndarray]) -> None:
    """Apply ``img_fn`` to every image and ``seg_fn`` to every seg map, in place."""
    results['img'] = [np.ascontiguousarray(img_fn(img)) for img in results['img']]
    for key in results.get('seg_fields', []):
        results[key] = np.ascontiguousarray(seg_fn(results[key]))
    results['img_shape'] = results['img'][0].shape[:2]


@TRANSFORMS.register_module()
class MultiImgRandomCrop(RandomCrop):
    """mmseg ``RandomCrop`` with one crop box for both images and the masks.

    Args:
        crop_size: (h, w) or int.
        cat_max_ratio: the largest fraction one class may cover in the crop
            (re-drawn up to 10 times), checked on ``gt_seg_map``.
        ignore_index: label ignored by that check.
    """

    def transform(self, results: dict) -> dict:
        """Crop A, B and every seg map with the same box."""
        imgs = _check_pair(results, type(self).__name__)
        bbox = self.crop_bbox({**results, 'img': imgs[0]})
        _apply(results, lambda x: self.crop(x, bbox), lambda x: self.crop(x, bbox))
        return results


@TRANSFORMS.register_module()
class MultiImgRandomFlip(RandomFlip):
    """mmseg ``RandomFlip`` with one direction draw for both images and the masks.

    Args:
        prob: flip probability (float, or list matching ``direction``).
        direction: ``'horizontal'``, ``'vertical'``, ``'diagonal'`` or a list.
        swap_seg_labels: label pairs swapped after flipping (mmcv/mmseg).

    Added keys: ``flip``, ``flip_direction``.
    """

    def transform(self, results: dict) -> dict:
        """Flip A, B and every seg map in the same (random) direction."""
        _check_pair(results, type(self).__name__)
        direction = self._choose_direction()
        results['flip'] = direction is not None
        results['flip_direction'] = direction
        if direction is not None:
            _apply(results, lambda x: mmcv.imflip(x, direction=direction),
                   lambda x: self._flip_seg_map(x, direction=direction))
        return results


@TRANSFORMS.register_module()
class MultiImgRandomRotFlip(BaseTransform):
    """Random rotation, or else a random 90-degree turn plus a flip, shared by the pair.

    open-cd 1.x semantics: with probability ``rotate_prob`` rotate by an angle
    drawn uniformly in ``degree`` (bilinear for images, nearest for masks,
    borders filled with ``pad_val`` / ``seg_pad_val``); otherwise, with
    probability ``flip_prob``, turn by ``k * 90`` degrees (k uniform in 0..3)
    and flip along a random axis.

    Args:
        rotate_prob: probability of the free rotation.
        flip_prob: probability of the 90-degree turn + flip when not rotated.
        degree: (min, max) angle in degrees, or one positive number ``d`` for (-d, d).
        pad_val: image fill of the rotated borders.
        seg_pad_val: mask fill of the rotated borders (255 = ignored).
    """

    def __init__(self,
                 rotate_prob: float = 0.5,
                 flip_prob: float = 0.5,
                 degree: float | tuple[float, float] = (-20, 20),
                 pad_val: float = 0,
                 seg_pad_val: int = 255) -> None:
        if not (0 <= rotate_prob <= 1 and 0 <= flip_prob <= 1):
            raise ValueError(f'MultiImgRandomRotFlip: probabilities must be in [0, 1], got '
                             f'rotate_prob={rotate_prob}, flip_prob={flip_prob}')
        if isinstance(degree, (int, float)):
            if degree <= 0:
                raise ValueError(f'MultiImgRandomRotFlip: degree {degree} must be positive')
            degree = (-degree, degree)
        if len(degree) != 2:
            raise ValueError(f'MultiImgRandomRotFlip: degree must be (min, max), got {degree}')
        self.rotate_prob = rotate_prob
        self.flip_prob = flip_prob
        self.degree = tuple(degree)
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    @cache_randomness
    def _sample(self) -> tuple[str | None, float, int, int]:
        """(mode, angle, k, axis) with mode 'rotate', 'rot90_flip' or None."""
        if np.random.rand() < self.rotate_prob:
            return 'rotate', float(np.random.uniform(min(self.degree), max(self.degree))), 0, 0
        if np.random.rand() < self.flip_prob:
            return 'rot90_flip', 0., int(np.random.randint(0, 4)), int(np.random.randint(0, 2))
        return None, 0., 0, 0

    def transform(self, results: dict) -> dict:
        """Rotate / turn+flip A, B and every seg map identically."""
        _check_pair(results, type(self).__name__)
        mode, angle, k, axis = self._sample()
        if mode == 'rotate':
            _apply(results,
                   lambda x: mmcv.imrotate(x, angle=angle, border_value=self.pad_val),
                   lambda x: mmcv.imrotate(x, angle=angle, border_value=self.seg_pad_val,
                                           interpolation='nearest'))
        elif mode == 'rot90_flip':
            def turn_flip(x: np.ndarray) -> np.ndarray:
                return np.flip(np.rot90(x, k), axis=axis)
            _apply(results, turn_flip, turn_flip)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(rotate_prob={self.rotate_prob}, '
                f'flip_prob={self.flip_prob}, degree={self.degree})')


@TRANSFORMS.register_module()
class MultiImgRandomRotate(RandomRotate):
    """mmseg ``RandomRotate`` with one (apply?, angle) draw for both images and the masks.

    Args:
        prob: rotation probability.
        degree: (min, max) angle in degrees, or ``d`` for (-d, d).
        pad_val: image fill of the rotated borders.
        seg_pad_val: mask fill of the rotated borders (255 = ignored).
        center: rotation centre (w, h); None for the image centre.
        auto_bound: enlarge the canvas to hold the whole rotated image.
    """

    def transform(self, results: dict) -> dict:
        """Rotate A, B (bilinear) and every seg map (nearest) by the same angle."""
        _check_pair(results, type(self).__name__)
        rotate, degree = self.generate_degree()
        if rotate:
            kwargs = dict(angle=degree, center=self.center, auto_bound=self.auto_bound)
            _apply(results,
                   lambda x: mmcv.imrotate(x, border_value=self.pal_val, **kwargs),
                   lambda x: mmcv.imrotate(x, border_value=self.seg_pad_val,
                                           interpolation='nearest', **kwargs))
        return results


@TRANSFORMS.register_module()
class MultiImgResize(Resize):
    """mmcv ``Resize`` of both images (bilinear) and every seg map (nearest) to one size.

    Args:
        scale: target (w, h) or int; with ``keep_ratio`` the image is rescaled
            to fit it (mmcv ``imrescale``).
        scale_factor: used when ``scale`` is None.
        keep_ratio, clip_object_border, backend, interpolation: as mmcv ``Resize``.

    Added keys: ``scale``, ``scale_factor``, ``keep_ratio``.
    """

    def transform(self, results: dict) -> dict:
        """Resize A, B and every seg map to the same target."""
        imgs = _check_pair(results, type(self).__name__)
        if self.scale:
            scale = self.scale
        else:
            scale = _scale_size(imgs[0].shape[:2][::-1], self.scale_factor)
        resized = []
        for img in imgs:
            view = {'img': img, 'scale': scale}
            self._resize_img(view)
            resized.append(view['img'])
        for key in results.get('seg_fields', []):
            view = {'gt_seg_map': results[key], 'scale': scale}
            self._resize_seg(view)
            results[key] = view['gt_seg_map']
        results['img'] = resized
        results['img_shape'] = resized[0].shape[:2]
        results['scale'] = scale
        results['scale_factor'] = (resized[0].shape[1] / imgs[0].shape[1],
                                   resized[0].shape[0] / imgs[0].shape[0])  # (w, h)
        results['keep_ratio'] = self.keep_ratio
        return results


@TRANSFORMS.register_module()
class MultiImgExchangeTime(BaseTransform):
    """Swap the two dates with probability ``prob`` (binary change labels are symmetric).

    Reverses ``results['img']`` and, to keep them naming the same pixels,
    ``results['img_path']``; swaps ``gt_seg_map_from`` / ``gt_seg_map_to``
    (semantic change detection) when both are present.

    Args:
        prob: probability of the swap.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'MultiImgExchangeTime: prob must be in [0, 1], got {prob}')
        self.prob = prob

    @cache_randomness
    def _do_exchange(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        """Reverse the time order of the pair (maybe)."""
        imgs = _check_pair(results, type(self).__name__)
        if self._do_exchange():
            results['img'] = imgs[::-1]
            if isinstance(results.get('img_path'), (list, tuple)):
                results['img_path'] = list(results['img_path'])[::-1]
            if 'gt_seg_map_from' in results and 'gt_seg_map_to' in results:
                results['gt_seg_map_from'], results['gt_seg_map_to'] = \
                    results['gt_seg_map_to'], results['gt_seg_map_from']
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
