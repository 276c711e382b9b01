from .byol_head import CMIDBYOLHead
from .local_head import CMIDLocalHead
from .mim_head import CMIDMIMHead
from .moco_head import CMIDMoCoHead

__all__ = ['CMIDMIMHead', 'CMIDLocalHead', 'CMIDMoCoHead', 'CMIDBYOLHead']
