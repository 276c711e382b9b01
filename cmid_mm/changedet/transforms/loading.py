"""Load an image pair and its change mask (open-cd ``MultiImgLoad*`` names)."""
from __future__ import annotations

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MultiImgLoadImageFromFile(LoadImageFromFile):
    """Load every file of ``results['img_path']`` (a list: image A, image B).

    Each file is read by mmcv's :class:`LoadImageFromFile` (same arguments:
    ``to_float32``, ``color_type``, ``imdecode_backend``, ``backend_args``...).

    Added keys: ``img`` (list of (H, W, C) arrays, in ``img_path`` order),
    ``img_shape``, ``ori_shape`` (of image A; all images must share it).
    """

    def transform(self, results: dict) -> dict | None:
        """Load all images of the pair."""
        paths = results['img_path']
        if isinstance(paths, str):
            raise TypeError(f'MultiImgLoadImageFromFile expects a list of image paths '
                            f'(A, B), got the single path {paths!r}')
        imgs = []
        for path in paths:
            single = super().transform({'img_path': path})
            if single is None:  # ignore_empty=True and the file is unreadable
                return None
            imgs.append(single['img'])
        for path, img in zip(paths[1:], imgs[1:]):
            if img.shape[:2] != imgs[0].shape[:2]:
                raise ValueError(f'MultiImgLoadImageFromFile: {path} is {img.shape[:2]} but '
                                 f'{paths[0]} is {imgs[0].shape[:2]}; the images of a pair '
                                 'must be co-registered and of the same size')
        results['img'] = imgs
        results['img_shape'] = imgs[0].shape[:2]
        results['ori_shape'] = imgs[0].shape[:2]
        return results


@TRANSFORMS.register_module()
class MultiImgLoadAnnotations(LoadAnnotations):
    """Load the change mask ``results['seg_map_path']`` as a (H, W) uint8 map.

    As mmseg's :class:`LoadAnnotations`, plus open-cd's binary formatting: the
    file is decoded as grey levels (3-channel JPEG masks of CDD included) and,
    when the dataset sets ``format_seg_map='to_binary'`` (LEVIR-CD, CDD),
    values ``>= 128`` become 1 (changed) and the rest 0. Then
    ``reduce_zero_label`` and ``label_map`` apply as in mmseg.

    Added keys: ``gt_seg_map``; ``'gt_seg_map'`` appended to ``seg_fields``.
    """

    def _load_seg_map(self, results: dict) -> None:
        """Read, binarise, remap; see the class docstring."""
        img_bytes = fileio.get(results['seg_map_path'], backend_args=self.backend_args)
        gt = mmcv.imfrombytes(img_bytes, flag='grayscale',
                              backend=self.imdecode_backend).squeeze().astype(np.uint8)
        fmt = results.get('format_seg_map')
        if fmt == 'to_binary':
            gt = (gt >= 128).astype(np.uint8)
        elif fmt is not None:
            raise ValueError(f"MultiImgLoadAnnotations: format_seg_map must be None or "
                             f"'to_binary', got {fmt!r}")
        if self.reduce_zero_label is None:
            self.reduce_zero_label = results.get('reduce_zero_label', False)
        if self.reduce_zero_label != results.get('reduce_zero_label', False):
            raise ValueError(
                'MultiImgLoadAnnotations: the dataset was built with reduce_zero_label='
                f"{results.get('reduce_zero_label', False)} but the transform has "
                f'{self.reduce_zero_label}; set it on the dataset only')
        if self.reduce_zero_label:
            gt[gt == 0] = 255
            gt = gt - 1
            gt[gt == 254] = 255
        if results.get('label_map') is not None:
            old = gt.copy()
            for old_id, new_id in results['label_map'].items():
                gt[old == old_id] = new_id
        results['gt_seg_map'] = gt
        results.setdefault('seg_fields', []).append('gt_seg_map')
