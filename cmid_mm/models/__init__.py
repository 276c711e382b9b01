"""CMID models; importing registers them into mmpretrain's MODELS registry."""
from .algorithms import CMID
from .backbones import CMIDResNet, CMIDSwinTransformer, CMIDViT
from .data_preprocessor import CMIDDataPreprocessor
from .heads import CMIDBYOLHead, CMIDLocalHead, CMIDMIMHead, CMIDMoCoHead
from .losses import CMIDLocalLoss, FocalFrequencyLoss, FocalL1Loss
from .necks import CMIDLinearDecoder
from .utils import position_match

__all__ = [
    'CMID', 'CMIDResNet', 'CMIDSwinTransformer', 'CMIDViT', 'CMIDDataPreprocessor', 'CMIDMIMHead',
    'CMIDLocalHead', 'CMIDMoCoHead', 'CMIDBYOLHead', 'CMIDLocalLoss', 'FocalL1Loss',
    'FocalFrequencyLoss', 'CMIDLinearDecoder', 'position_match'
]
