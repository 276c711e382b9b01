"""Reading checkpoints of the reference CMID implementation (NJU-LHRS/official-CMID).

The reference code (github NJU-LHRS/official-CMID, ``Pretrain/``) trains a
``MoCoBased`` model and saves ``{'epoch', 'num_gpus', 'model', 'optimizer',
'metric_storage', 'hooks'}``. Inside ``model``:

* ResNet-50: ``online_encoder.model.*`` is a ``timm`` ``resnet50`` (``conv1``,
  ``bn1``, ``layer{1-4}.{i}.{conv,bn}{1-3}``, ``downsample.{0,1}``; no ``fc``
  since ``num_classes=0``) and ``online_encoder.mask_token`` (1, 64, 1, 1);
  the momentum encoder ``branch_encoder.*`` is another timm ``resnet50``.
* Swin-B: ``online_encoder.model.*`` is the reference's copy of mmcls 0.x
  ``SwinTransformer(arch='base', out_indices=(3,))`` (``patch_embed.projection``,
  ``stages.{i}.blocks.{j}.attn.w_msa.*``, ``stages.{i}.downsample.*``,
  ``norm3``) and ``online_encoder.mask_token`` (1, 1, 128); ``branch_encoder.*``
  is the momentum Swin.
* heads: ``online_projector``, ``branch_projector``, ``class_projector``,
  ``branch_class_projector``, ``mim2org``, ``mim_loss``, ``class_loss.center``,
  ``queue``, ``queue_ptr`` (dropped here).

The "backbone only" files released with the paper are accepted too: a state
dict of the backbone alone, possibly under ``state_dict``/``model`` and with a
``module.``/``backbone.``/``model.``/``encoder.`` prefix.

timm's ResNet and mmcls 0.x Swin use the key names of mmpretrain's stock
``ResNet`` / ``SwinTransformer``, so the backbone keys keep their names; then
the weights go through the same export path as our own checkpoints
(:func:`~.writer.export_backbone`: compared with the stock classes, moved to
the target package's layout, written only when every key matches).

The full reference checkpoints also pickle the trainer's ``MetricStroge`` and
``HistoryBuffer`` objects (``Exploring.utils``). They are read as inert
containers (allow-listed stand-in classes with no methods), never by running
the reference code; any other object type stops the tool with its name.
"""
from __future__ import annotations

import collections
from pathlib import Path

import torch

from .errors import ConversionError
from .keys import prefix_summary
from .layout import TARGETS, infer_spec
from .writer import BACKBONE_PREFIX, ExportResult, export_backbone, load_checkpoint_file

BRANCH_PREFIX = {'online': 'online_encoder.model.', 'momentum': 'branch_encoder.'}
ANCHORS = ('layer1.0.conv1.weight', 'patch_embed.projection.weight')
BARE_PREFIXES = ('', 'module.', 'backbone.', 'model.', 'encoder.', 'module.backbone.')
DROP_FROM_BACKBONE = ('fc.', 'head.', 'mask_token')


class _ReferenceHistoryBuffer:
    """Inert stand-in for ``Exploring.utils.history_buffer.HistoryBuffer``."""


class _DequeAsList(list):
    """Inert stand-in for ``collections.deque`` (``HistoryBuffer._history``)."""

    def __init__(self, iterable=(), maxlen=None):
        super().__init__(iterable)
        self.maxlen = maxlen


# The weights-only unpickler fills only exact dicts, so the reference's
# ``MetricStroge(dict)`` is read as an ``OrderedDict`` (a type torch allows).
REFERENCE_TYPES = [
    (collections.OrderedDict, 'Exploring.utils.metric.MetricStroge'),
    (_ReferenceHistoryBuffer, 'Exploring.utils.history_buffer.HistoryBuffer'),
    (_DequeAsList, 'collections.deque'),
]


def find_model_state(ckpt: object, path: str | Path) -> dict:
    """The model state dict inside a reference checkpoint (full or backbone only)."""
    if not isinstance(ckpt, dict):
        raise ConversionError(f'{path}: expected a dict, found a {type(ckpt).__name__}')
    for key in ('model', 'state_dict'):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key]
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt
    raise ConversionError(f'{path}: no model weights found: top-level keys {sorted(ckpt)[:12]} '
                          '(expected "model" as the reference trainer writes, "state_dict", or '
                          'a bare backbone state dict)')


def select_backbone(state: dict, branch: str, path: str | Path,
                    notes: list[str] | None = None) -> tuple[dict, str, list[str]]:
    """Unprefixed backbone weights of the chosen branch, the prefix used and the
    keys left out (a classifier ``fc``/``head``, the mask token)."""
    keys = list(state)
    if any(k.startswith(p) for p in BRANCH_PREFIX.values() for k in keys):
        prefix = BRANCH_PREFIX[branch]
        if not any(k.startswith(prefix) for k in keys):
            raise ConversionError(f'{path}: no {branch} encoder ({prefix}*); key prefixes: '
                                  f'{prefix_summary(keys)}')
    else:
        found = [p for p in BARE_PREFIXES for a in ANCHORS if p + a in state]
        if not found:
            raise ConversionError(
                f'{path}: not a reference CMID checkpoint: no "online_encoder.model.*" / '
                f'"branch_encoder.*" keys and no bare ResNet/Swin backbone; key prefixes found: '
                f'{prefix_summary(keys, depth=2)}')
        prefix = found[0]
        if branch != 'online' and notes is not None:
            notes.append('a backbone-only file has one branch; --branch is ignored')
    out = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    dropped = [k for k in out if k.startswith(DROP_FROM_BACKBONE)]
    for k in dropped:
        del out[k]
    return out, prefix, dropped


def convert(src: str | Path, dst: str | Path, target: str = 'mmpretrain',
            branch: str = 'online', prefix: str = BACKBONE_PREFIX,
            notes: list[str] | None = None) -> tuple[ExportResult, str, list[str]]:
    """Convert the ``branch`` encoder of a reference checkpoint; write ``dst`` when all
    keys match.

    Returns:
        The export result, the key prefix the backbone was found under and the
        keys left out (classifier, mask token, and what the target has no layer for).
    """
    if target not in TARGETS:
        raise ConversionError(f'--target must be one of {TARGETS}, got {target!r}')
    if branch not in BRANCH_PREFIX:
        raise ConversionError(f'--branch must be one of {sorted(BRANCH_PREFIX)}')
    ckpt = load_checkpoint_file(src, extra_safe=REFERENCE_TYPES)
    state = find_model_state(ckpt, src)
    weights, source_prefix, dropped = select_backbone(state, branch, src, notes)
    spec = infer_spec(weights, where=f'{src} ({source_prefix or "no prefix"})')
    # reference key names == mmpretrain stock key names: the source check uses that class
    meta = {'source': str(src), 'source_format': 'NJU-LHRS/official-CMID', 'branch': branch,
            'source_prefix': source_prefix}
    result = export_backbone(weights, spec, target, dst, meta, dropped=dropped, prefix=prefix)
    return result, source_prefix, dropped + result.removed
