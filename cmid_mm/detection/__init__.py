"""Detection glue: datasets registered into mmdet's registries.

Oriented detection (DOTA) uses mmrotate's own modules unchanged; the configs
under ``configs/benchmarks/rotated_detection`` only swap in CMID weights.
"""
from .dior import DIOR_CLASSES, DIORDataset

__all__ = ['DIORDataset', 'DIOR_CLASSES']
