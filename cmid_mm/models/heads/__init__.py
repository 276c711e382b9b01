from .local_head import CMIDLocalHead
from .mim_head import CMIDMIMHead

__all__ = ['CMIDMIMHead', 'CMIDLocalHead']
