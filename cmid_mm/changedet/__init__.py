"""Change detection with CMID backbones: open-cd 1.x compatible components on mmseg.

Everything here registers into **mmseg's** registries (scope ``mmseg``), under
open-cd's public type names. When the real open-cd is not installed, an
``opencd`` scope (child registries of mmseg's) is added so that open-cd
configs (``default_scope='opencd'``) resolve to these components; with open-cd
installed nothing is added and open-cd's own classes are used. See
``docs/changedet.md`` ("Registry scope").
"""
from .bit_head import BITHead
from .cd_datasets import (
    BiTemporalCDDataset,
    DSIFN_Dataset,
    LEVIR_CD_Dataset,
    S2Looking_Dataset,
    SVCD_Dataset,
    WHU_CD_Dataset,
)
from .cd_metric import CDMetric
from .cd_visualizer import CDLocalVisBackend, CDLocalVisualizer
from .data_preprocessor import DualInputSegDataPreProcessor
from .dual_input_encoder_decoder import DIEncoderDecoder
from .fc_siam import FC_EF, FC_Siam_conc, FC_Siam_diff
from .feature_fusion_neck import FeatureFusionNeck
from .opencd_scope import OpenCDComponentUnavailable, opencd_installed, register_opencd_scope
from .siam_encoder_decoder import SiamEncoderDecoder
from .snunet import SNUNet_ECAM
from .transforms import (
    MultiImgExchangeTime,
    MultiImgLoadAnnotations,
    MultiImgLoadImageFromFile,
    MultiImgNormalize,
    MultiImgPackSegInputs,
    MultiImgPad,
    MultiImgPhotoMetricDistortion,
    MultiImgRandomCrop,
    MultiImgRandomFlip,
    MultiImgRandomResize,
    MultiImgRandomRotate,
    MultiImgRandomRotFlip,
    MultiImgResize,
)
from .visualization_hook import CDVisualizationHook, render_change_panel

# open-cd configs (default_scope='opencd') resolve to the components above
# only when the real open-cd is not installed
register_opencd_scope()

__all__ = [
    'SiamEncoderDecoder', 'DIEncoderDecoder', 'FeatureFusionNeck', 'BITHead', 'FC_EF',
    'FC_Siam_conc', 'FC_Siam_diff', 'SNUNet_ECAM', 'DualInputSegDataPreProcessor',
    'BiTemporalCDDataset',
    'LEVIR_CD_Dataset', 'SVCD_Dataset', 'S2Looking_Dataset', 'WHU_CD_Dataset',
    'DSIFN_Dataset', 'CDMetric', 'CDVisualizationHook', 'CDLocalVisualizer',
    'CDLocalVisBackend', 'render_change_panel', 'MultiImgLoadImageFromFile',
    'MultiImgLoadAnnotations', 'MultiImgRandomCrop', 'MultiImgRandomFlip',
    'MultiImgRandomRotFlip', 'MultiImgRandomRotate', 'MultiImgResize', 'MultiImgRandomResize',
    'MultiImgPad', 'MultiImgExchangeTime', 'MultiImgPhotoMetricDistortion',
    'MultiImgNormalize', 'MultiImgPackSegInputs', 'OpenCDComponentUnavailable',
    'opencd_installed', 'register_opencd_scope'
]
