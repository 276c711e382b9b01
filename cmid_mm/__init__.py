"""cmid-mm: CMID self-supervised pretraining as an OpenMMLab 2.x plugin.

Importing this package registers every module into the registries of the
package it extends (``mmpretrain`` for pretraining and classification,
``mmseg`` for segmentation and change detection, ``mmdet`` for detection).
Configs reach it with
``custom_imports=dict(imports=['cmid_mm'], allow_failed_imports=False)``.
"""
from . import changedet, datasets, detection, engine, evaluation, export, models, utils  # noqa: F401
from .version import __version__

__all__ = ['__version__']

# Resuming on torch >= 2.6 loads with weights_only=True: allow mmengine's types.
utils.allow_mmengine_checkpoint_types()
