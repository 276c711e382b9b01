"""Convert checkpoints of the reference CMID implementation to the MM layout.

Usage::

    python tools/model_converters/official_cmid_to_mm.py SRC OUT \\
        [--target mmpretrain|mmseg|mmdet|mmrotate] [--branch online|momentum]

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
the weights are moved to the target package's layout exactly as
``extract_backbone.py`` does, and compared with the target's stock class
(exit status 1 with the list on any mismatch).

The full reference checkpoints also pickle the trainer's ``MetricStroge`` and
``HistoryBuffer`` objects (``Exploring.utils``). They are read as inert
containers (allow-listed stand-in classes with no methods), never by running
the reference code; any other object type stops the tool with its name.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backbone_layout import (  # noqa: E402
    TARGETS,
    ConversionError,
    build_source_stock,
    build_stock,
    compare_with_module,
    export_dict,
    infer_spec,
    load_weights_only,
    plain_data,
    prefix_summary,
    stock_kwargs,
    to_target_layout,
)

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


def select_backbone(state: dict, branch: str, path: str | Path
                    ) -> tuple[dict, str, list[str]]:
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
        if branch != 'online':
            print('[official_cmid_to_mm] note: a backbone-only file has one branch; '
                  '--branch is ignored', file=sys.stderr)
    out = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    dropped = [k for k in out if k.startswith(DROP_FROM_BACKBONE)]
    for k in dropped:
        del out[k]
    return out, prefix, dropped


def convert(src: str | Path, dst: str | Path, target: str = 'mmpretrain',
            branch: str = 'online') -> dict:
    """Convert ``src``; write ``dst`` when all keys match. Returns a report dict."""
    if target not in TARGETS:
        raise ConversionError(f'--target must be one of {TARGETS}, got {target!r}')
    if branch not in BRANCH_PREFIX:
        raise ConversionError(f'--branch must be one of {sorted(BRANCH_PREFIX)}')
    ckpt = load_weights_only(src, extra_safe=REFERENCE_TYPES)
    state = find_model_state(ckpt, src)
    weights, prefix, dropped = select_backbone(state, branch, src)
    spec = infer_spec(weights, where=f'{src} ({prefix or "no prefix"})')
    # reference key names == mmpretrain stock key names: check that first
    source_check = compare_with_module(weights, build_source_stock(spec))
    converted, added, removed = to_target_layout(weights, spec, target)
    dropped += removed
    target_check = compare_with_module(converted, build_stock(spec, target))
    ok = source_check.ok and target_check.ok
    if ok:
        meta = {'cmid_export': {
            'source': str(src), 'source_format': 'NJU-LHRS/official-CMID',
            'branch': branch, 'source_prefix': prefix, 'target': target,
            'backbone_type': spec.kind,
            'backbone_kwargs': plain_data(stock_kwargs(spec, target)),
            'initialised_keys': ['backbone.' + k for k in added],
            'dropped_keys': dropped,
        }}
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        torch.save(export_dict(converted, meta), dst)
    return dict(spec=spec, prefix=prefix, source_check=source_check,
                target_check=target_check, initialised=added, dropped=dropped, ok=ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint of NJU-LHRS/official-CMID')
    parser.add_argument('dst', help='output backbone-only checkpoint')
    parser.add_argument('--target', default='mmpretrain', choices=TARGETS)
    parser.add_argument('--branch', default='online', choices=sorted(BRANCH_PREFIX),
                        help='online (student, used downstream in the paper) or momentum')
    args = parser.parse_args(argv)
    try:
        report = convert(args.src, args.dst, args.target, args.branch)
    except ConversionError as err:
        print(f'[official_cmid_to_mm] error: {err}', file=sys.stderr)
        return 1
    print(f'[official_cmid_to_mm] {report["prefix"] or "(no prefix)"}* -> '
          f'{report["spec"].describe()}')
    print(f'[official_cmid_to_mm] vs stock mmpretrain: {report["source_check"].describe()}')
    print(f'[official_cmid_to_mm] vs stock {args.target}: {report["target_check"].describe()}')
    if report['initialised']:
        print(f'[official_cmid_to_mm] added with initial values (not pretrained): '
              f'{report["initialised"]}')
    if report['dropped']:
        print(f'[official_cmid_to_mm] left out: {report["dropped"]}')
    if not report['ok']:
        print('[official_cmid_to_mm] error: key mismatch, nothing written', file=sys.stderr)
        return 1
    print(f'[official_cmid_to_mm] wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
