"""Pack an image pair into one (2*C, H, W) tensor plus a ``SegDataSample``."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmcv.transforms import to_tensor
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

DEFAULT_META_KEYS = ('img_path', 'seg_map_path', 'seg_map_path_from', 'seg_map_path_to',
                     'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
                     'flip_direction')


@TRANSFORMS.register_module()
class MultiImgPackSegInputs(PackSegInputs):
    """mmseg ``PackSegInputs`` for a pair: images concatenated on channels (open-cd).

    ``results['img']`` (list of (H, W, C) arrays) becomes ``inputs`` of shape
    (2*C, H, W), image A first; ``gt_seg_map`` -> ``gt_sem_seg`` (1, H, W) as
    in mmseg; semantic-change maps ``gt_seg_map_from`` / ``gt_seg_map_to``
    (when present) -> ``gt_sem_seg_from`` / ``gt_sem_seg_to``. ``img_path`` in
    the meta info stays the list of the pair's files.

    Args:
        meta_keys: keys copied into the data sample's meta info.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Concatenate the images, then pack as mmseg does."""
        imgs = results.get('img')
        if isinstance(imgs, (list, tuple)):
            imgs = [img[..., None] if img.ndim == 2 else img for img in imgs]
            results = {**results, 'img': np.concatenate(imgs, axis=-1)}  # (H, W, 2C)
        packed = super().transform(results)
        sample = packed['data_samples']
        for key, field in (('gt_seg_map_from', 'gt_sem_seg_from'),
                           ('gt_seg_map_to', 'gt_sem_seg_to')):
            if key in results:
                data = to_tensor(results[key][None, ...].astype(np.int64))
                sample.set_data({field: PixelData(data=data)})
        return packed
