"""Transforms of bi-temporal image pairs (open-cd 1.x names, registered in mmseg)."""
from .formatting import MultiImgPackSegInputs
from .geometric import (
    MultiImgExchangeTime,
    MultiImgRandomCrop,
    MultiImgRandomFlip,
    MultiImgRandomRotate,
    MultiImgRandomRotFlip,
    MultiImgResize,
)
from .loading import MultiImgLoadAnnotations, MultiImgLoadImageFromFile
from .photometric import MultiImgNormalize, MultiImgPhotoMetricDistortion
from .resize_pad import MultiImgPad, MultiImgRandomResize

__all__ = [
    'MultiImgLoadImageFromFile', 'MultiImgLoadAnnotations', 'MultiImgRandomCrop',
    'MultiImgRandomFlip', 'MultiImgRandomRotFlip', 'MultiImgRandomRotate', 'MultiImgResize',
    'MultiImgRandomResize', 'MultiImgPad', 'MultiImgExchangeTime',
    'MultiImgPhotoMetricDistortion', 'MultiImgNormalize', 'MultiImgPackSegInputs'
]
