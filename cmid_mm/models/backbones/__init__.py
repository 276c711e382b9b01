from .cmid_resnet import CMIDResNet
from .cmid_swin import CMIDSwinTransformer

__all__ = ['CMIDResNet', 'CMIDSwinTransformer']
