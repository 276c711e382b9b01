"""Backbone export and checkpoint conversion for downstream OpenMMLab configs.

``tools/model_converters/extract_backbone.py`` and ``official_cmid_to_mm.py``
are thin commands over :func:`extract` and :func:`convert`; both end in the
one "check, map, check, save" path :func:`export_backbone`.
"""
from .band_adapt import BandMismatchError, adapt_checkpoint, check_checkpoint_bands
from .cmid_checkpoint import extract, parse_model_cfg, read_cmid_checkpoint
from .errors import ConversionError
from .keys import KeyReport, compare_with_module, prefix_summary
from .layout import TARGETS, BackboneSpec, build_stock, infer_spec, to_target_layout
from .load_check import (
    PretrainedLoadCheckHook,
    PretrainedLoadError,
    check_pretrained_bands,
    check_pretrained_loaded,
)
from .reference import convert
from .writer import BACKBONE_PREFIX, ExportResult, export_backbone, load_checkpoint_file

__all__ = [
    'BACKBONE_PREFIX', 'TARGETS', 'BackboneSpec', 'BandMismatchError', 'adapt_checkpoint',
    'check_checkpoint_bands', 'ConversionError', 'ExportResult', 'KeyReport',
    'PretrainedLoadCheckHook', 'PretrainedLoadError', 'build_stock', 'check_pretrained_bands',
    'check_pretrained_loaded',
    'compare_with_module', 'convert', 'export_backbone', 'extract', 'infer_spec',
    'load_checkpoint_file', 'parse_model_cfg', 'prefix_summary', 'read_cmid_checkpoint',
    'to_target_layout'
]
