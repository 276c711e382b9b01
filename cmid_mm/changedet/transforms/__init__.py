"""Transforms of bi-temporal image pairs (open-cd 1.x names, registered in mmseg)."""
from .formatting import MultiImgPackSegInputs
from .geometric import (
    MultiImgExchangeTime,
    MultiImgRandomCrop,
    MultiImgRandomFlip,
    MultiImgRandomRotFlip,
    MultiImgResize,
)
from .loading import MultiImgLoadAnnotations, MultiImgLoadImageFromFile
from .photometric import MultiImgPhotoMetricDistortion

__all__ = [
    'MultiImgLoadImageFromFile', 'MultiImgLoadAnnotations', 'MultiImgRandomCrop',
    'MultiImgRandomFlip', 'MultiImgRandomRotFlip', 'MultiImgResize', 'MultiImgExchangeTime',
    'MultiImgPhotoMetricDistortion', 'MultiImgPackSegInputs'
]
