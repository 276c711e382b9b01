"""Photometric distortion and normalisation of each date of an image pair (open-cd names)."""
from __future__ import annotations

import mmcv
import numpy as np
from mmcv.transforms import Normalize
from mmseg.datasets.transforms import PhotoMetricDistortion
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MultiImgPhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg ``PhotoMetricDistortion`` drawn *independently* for image A and image B.

    Two acquisition dates differ radiometrically, so unlike the geometric
    transforms each image gets its own random brightness / contrast /
    saturation / hue (each applied with probability 0.5, mmseg's operations on
    3-channel BGR uint8 images). With ``consistent_contrast_mode=True`` the
    order "contrast first" vs "contrast last" is drawn once for the pair.

    Args:
        brightness_delta: brightness shift range (+-, grey levels).
        contrast_range: contrast factor range.
        saturation_range: saturation factor range.
        hue_delta: hue shift range (+-, OpenCV hue units).
        consistent_contrast_mode: one contrast-order draw for both images.
    """

    def __init__(self,
                 brightness_delta: int = 32,
                 contrast_range: tuple[float, float] = (0.5, 1.5),
                 saturation_range: tuple[float, float] = (0.5, 1.5),
                 hue_delta: int = 18,
                 consistent_contrast_mode: bool = False) -> None:
        super().__init__(brightness_delta=brightness_delta, contrast_range=contrast_range,
                         saturation_range=saturation_range, hue_delta=hue_delta)
        self.consistent_contrast_mode = consistent_contrast_mode

    def _distort(self, img: np.ndarray, mode: int) -> np.ndarray:
        """mmseg's sequence; ``mode`` 0: contrast after hue, 1: contrast first."""
        img = self.brightness(img)
        if mode == 1:
            img = self.contrast(img)
        img = self.saturation(img)
        img = self.hue(img)
        if mode == 0:
            img = self.contrast(img)
        return img

    def transform(self, results: dict) -> dict:
        """Distort each image of ``results['img']``."""
        imgs = results.get('img')
        if not isinstance(imgs, (list, tuple)):
            raise TypeError('MultiImgPhotoMetricDistortion expects results["img"] to be a '
                            'list of images (A, B)')
        shared_mode = np.random.randint(2) if self.consistent_contrast_mode else None
        results['img'] = [
            self._distort(img, shared_mode if shared_mode is not None else np.random.randint(2))
            for img in imgs
        ]
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', consistent_contrast_mode={self.consistent_contrast_mode})')


@TRANSFORMS.register_module()
class MultiImgNormalize(Normalize):
    """mmcv ``Normalize`` of each image of the pair with the same per-image mean / std.

    Args:
        mean: per-channel mean of *one* image (3 values for RGB).
        std: per-channel std of one image.
        to_rgb: convert BGR to RGB before normalising (mean/std then in RGB order).

    Added key: ``img_norm_cfg``. Images become float32. Configs that
    normalise here usually leave the data preprocessor without mean/std.
    """

    def transform(self, results: dict) -> dict:
        """Normalise A and B."""
        imgs = results.get('img')
        if not isinstance(imgs, (list, tuple)):
            raise TypeError('MultiImgNormalize expects results["img"] to be a list of images '
                            '(A, B)')
        for img in imgs:
            if img.shape[-1] != len(self.mean):
                raise ValueError(f'MultiImgNormalize: an image has {img.shape[-1]} channels '
                                 f'but mean/std list {len(self.mean)} values (per image)')
        results['img'] = [mmcv.imnormalize(img, self.mean, self.std, self.to_rgb)
                          for img in imgs]
        results['img_norm_cfg'] = dict(mean=self.mean, std=self.std, to_rgb=self.to_rgb)
        return results
