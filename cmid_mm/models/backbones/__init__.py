from .cmid_resnet import CMIDResNet
from .cmid_swin import CMIDSwinTransformer
from .cmid_vit import CMIDViT

__all__ = ['CMIDResNet', 'CMIDSwinTransformer', 'CMIDViT']
