"""Change detection with CMID backbones: open-cd 1.x compatible components on mmseg.

Everything here registers into **mmseg's** registries (scope ``mmseg``), under
open-cd's public type names, and never into a registry named ``opencd``; see
``docs/changedet.md`` ("Registry scope") for how this coexists with a real
open-cd installation.
"""
from .bit_head import BITHead
from .cd_datasets import BiTemporalCDDataset, LEVIR_CD_Dataset, SVCD_Dataset
from .cd_metric import CDMetric
from .data_preprocessor import DualInputSegDataPreProcessor
from .feature_fusion_neck import FeatureFusionNeck
from .siam_encoder_decoder import SiamEncoderDecoder
from .transforms import (
    MultiImgExchangeTime,
    MultiImgLoadAnnotations,
    MultiImgLoadImageFromFile,
    MultiImgPackSegInputs,
    MultiImgPhotoMetricDistortion,
    MultiImgRandomCrop,
    MultiImgRandomFlip,
    MultiImgRandomRotFlip,
    MultiImgResize,
)
from .visualization_hook import CDVisualizationHook, render_change_panel

__all__ = [
    'SiamEncoderDecoder', 'FeatureFusionNeck', 'BITHead', 'DualInputSegDataPreProcessor',
    'BiTemporalCDDataset', 'LEVIR_CD_Dataset', 'SVCD_Dataset', 'CDMetric',
    'CDVisualizationHook', 'render_change_panel', 'MultiImgLoadImageFromFile',
    'MultiImgLoadAnnotations', 'MultiImgRandomCrop', 'MultiImgRandomFlip',
    'MultiImgRandomRotFlip', 'MultiImgResize', 'MultiImgExchangeTime',
    'MultiImgPhotoMetricDistortion', 'MultiImgPackSegInputs'
]
