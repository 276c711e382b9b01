"""The one export path of backbone weights: check, map, check, save.

Both converters (``tools/model_converters/extract_backbone.py`` for our CMID
checkpoints, ``official_cmid_to_mm.py`` for the reference implementation's)
end here once they have the unprefixed backbone weights in mmpretrain's
layout: the weights are compared with the stock source class, moved to the
target package's layout (:func:`~.layout.to_target_layout`), compared with the
target's stock class, and written only when both comparisons are clean.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..utils.checkpoint import safe_load_checkpoint
from .errors import ConversionError
from .keys import KeyReport, compare_with_module
from .layout import (
    TARGETS,
    BackboneSpec,
    build_source_stock,
    build_stock,
    stock_kwargs,
    to_target_layout,
)

#: Key prefix of the exported weights by default: what ``init_cfg=dict(type='Pretrained',
#: checkpoint=..., prefix='backbone.')`` and a whole-model ``load_from`` expect.
BACKBONE_PREFIX = 'backbone.'


def load_checkpoint_file(path: str | Path, extra_safe: list | None = None) -> dict:
    """Read a checkpoint with the package's safe loader (``weights_only=True``).

    Args:
        path: Checkpoint file.
        extra_safe: More allow-listed globals for this read only, as accepted by
            ``torch.serialization.safe_globals`` (objects or ``(object, 'module.Name')``).

    Raises:
        ConversionError: the file is missing, is not a checkpoint dict, or holds
            Python objects other than tensors, plain containers and the types
            mmengine writes (never unpickled unsafely).
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f'{path}: no such file')
    try:
        with torch.serialization.safe_globals(list(extra_safe or [])):
            return safe_load_checkpoint(path)
    except (FileNotFoundError, ValueError) as err:
        raise ConversionError(str(err)) from err


def plain_data(obj: object) -> object:
    """Tuples -> lists, recursively, so that metadata stays plain data."""
    if isinstance(obj, dict):
        return {k: plain_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_data(v) for v in obj]
    return obj


def export_dict(state: dict[str, torch.Tensor], meta: dict,
                prefix: str = BACKBONE_PREFIX) -> dict:
    """The saved file: ``{'meta': ..., 'state_dict': {prefix + key: tensor}}``.

    With the default ``backbone.`` prefix both
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
    (mmengine keeps and strips that prefix) and a whole-model ``load_from``
    put the weights into ``model.backbone``. With ``prefix=''`` the keys are
    the backbone's own: what a model-level ``pretrained=PATH`` (mmseg / open-cd
    ``EncoderDecoder``) or a backbone ``init_cfg`` without ``prefix`` expect.
    Tensors are cloned so that the file holds only these weights. Everything
    is plain data: the file loads with ``torch.load(weights_only=True)``.
    """
    sd = OrderedDict((f'{prefix}{k}', v.detach().clone().contiguous()) for k, v in state.items())
    return {'meta': meta, 'state_dict': sd}


@dataclass
class ExportResult:
    """What :func:`export_backbone` checked and changed.

    ``source_check``: the weights vs. the stock mmpretrain class (or the given
    source module); ``target_check``: the moved weights vs. the target's stock
    class; ``initialised``: keys added with their module's initial values (not
    pretrained); ``removed``: keys the target class has no layer for.
    """

    spec: BackboneSpec
    source_check: KeyReport
    target_check: KeyReport
    initialised: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.source_check.ok and self.target_check.ok


def export_backbone(weights: dict[str, torch.Tensor], spec: BackboneSpec, target: str,
                    dst: str | Path, meta: dict, source_model: nn.Module | None = None,
                    dropped: list[str] | tuple[str, ...] = (),
                    prefix: str = BACKBONE_PREFIX) -> ExportResult:
    """Check, map, check, save one backbone.

    Args:
        weights: Unprefixed backbone state dict in mmpretrain's layout.
        spec: Its structure (:func:`~.layout.infer_spec`).
        target: ``mmpretrain``, ``mmseg``, ``mmdet`` or ``mmrotate``.
        dst: Output file, written only when both checks pass.
        meta: Provenance written under ``meta['cmid_export']`` (the target, the
            stock kwargs, the key prefix, dropped and initialised keys are added).
        source_model: The module to check ``weights`` against; default the stock
            mmpretrain class of ``spec``.
        dropped: Keys the caller left out (e.g. the mask token), for the metadata.
        prefix: Key prefix of the written state dict (``'backbone.'`` or ``''``).

    Returns:
        ExportResult: The checks; ``ok`` tells whether ``dst`` was written.
    """
    if target not in TARGETS:
        raise ConversionError(f'--target must be one of {TARGETS}, got {target!r}')
    if prefix not in (BACKBONE_PREFIX, ''):
        raise ConversionError(f'key prefix must be {BACKBONE_PREFIX!r} or empty, got {prefix!r}')
    source_model = source_model if source_model is not None else build_source_stock(spec)
    source_check = compare_with_module(weights, source_model)
    converted, added, removed = to_target_layout(weights, spec, target)
    target_check = compare_with_module(converted, build_stock(spec, target))
    result = ExportResult(spec, source_check, target_check, added, removed)
    if result.ok:
        meta = {**meta, 'target': target, 'backbone_type': spec.kind,
                'backbone_kwargs': plain_data(stock_kwargs(spec, target)),
                'key_prefix': prefix, 'dropped_keys': list(dropped) + removed,
                'initialised_keys': [prefix + k for k in added]}
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        torch.save(export_dict(converted, {'cmid_export': meta}, prefix), dst)
    return result
