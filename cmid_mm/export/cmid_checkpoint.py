"""Reading a checkpoint written by CMID pretraining in this package, and exporting
its student (or EMA teacher) backbone.

A CMID checkpoint is an mmengine checkpoint whose ``state_dict`` holds the
student ``backbone.*`` with its ``backbone.mask_token``, the EMA teacher
``teacher.module.*``, the heads and the queue, and whose ``meta['cfg']`` is a
config with ``model.type == 'CMID'``. The config is read without running it
(only literals and ``dict(...)`` calls are evaluated).
"""
from __future__ import annotations

import ast
from pathlib import Path

import torch

from .errors import ConversionError
from .keys import prefix_summary
from .layout import TARGETS, BackboneSpec, build_source_stock, filter_kwargs, infer_spec
from .writer import BACKBONE_PREFIX, ExportResult, export_backbone, load_checkpoint_file

STUDENT_PREFIX = 'backbone.'
TEACHER_PREFIX = 'teacher.module.backbone.'
DROPPED = ('mask_token', )
# CMID backbone types -> the stock mmpretrain class they extend (key-for-key + mask token).
STOCK_OF = {'CMIDResNet': 'ResNet', 'CMIDSwinTransformer': 'SwinTransformer',
            'CMIDViT': 'VisionTransformer', 'ResNet': 'ResNet',
            'SwinTransformer': 'SwinTransformer', 'VisionTransformer': 'VisionTransformer'}


class _NotLiteral(Exception):
    pass


def _literal(node: ast.AST) -> object:
    """Value of a literal / ``dict(...)`` expression; anything else is refused."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and not node.args:
        out = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise _NotLiteral
            try:
                out[kw.arg] = _literal(kw.value)
            except _NotLiteral:
                continue  # keep what is readable (e.g. a lambda somewhere deep)
        return out
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal(e) for e in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    try:
        return ast.literal_eval(node)
    except ValueError as err:
        raise _NotLiteral from err


def parse_model_cfg(text: str) -> dict | None:
    """The ``model`` dict of a config dumped into ``meta['cfg']``, read without
    executing it (a checkpoint's config is code; only literals and ``dict(...)``
    calls are evaluated). None when there is no readable ``model = dict(...)``."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'model' for t in stmt.targets):
            try:
                value = _literal(stmt.value)
            except _NotLiteral:
                return None
            return value if isinstance(value, dict) else None
    return None


def read_cmid_checkpoint(path: str | Path,
                         notes: list[str] | None = None) -> tuple[dict, dict | None]:
    """Load ``path`` and check it against the CMID checkpoint contract.

    Args:
        path: The checkpoint.
        notes: Where to append remarks for the user (e.g. no readable config).

    Returns:
        The ``state_dict`` and the config's ``model`` dict (None when the
        checkpoint has no readable config).

    Raises:
        ConversionError: not a CMID checkpoint; the message says what it is.
    """
    ckpt = load_checkpoint_file(path)
    if not isinstance(ckpt, dict):
        raise ConversionError(f'{path}: expected an mmengine checkpoint (a dict with '
                              f'"state_dict" and "meta"), found a {type(ckpt).__name__}')
    if 'state_dict' not in ckpt:
        tensors = all(isinstance(v, torch.Tensor) for v in ckpt.values())
        what = (f'a bare state dict with key prefixes {prefix_summary(list(ckpt))}' if tensors
                else f'a dict with top-level keys {sorted(ckpt)[:12]}')
        if isinstance(ckpt.get('model'), dict) and \
                any(str(k).startswith('online_encoder.') for k in ckpt['model']):
            what += (' - this looks like a checkpoint of the reference implementation; '
                     'convert it with tools/model_converters/official_cmid_to_mm.py')
        raise ConversionError(f'{path}: not a CMID checkpoint: no "state_dict" entry, found {what}')
    state = ckpt['state_dict']
    meta = ckpt.get('meta') or {}
    cfg_text = meta.get('cfg') if isinstance(meta, dict) else None
    model_cfg = parse_model_cfg(cfg_text) if isinstance(cfg_text, str) else None
    mtype = (model_cfg or {}).get('type')
    if mtype is not None and mtype.split('.')[-1] != 'CMID':
        raise ConversionError(f'{path}: not a CMID checkpoint: its config has model type '
                              f'{mtype!r}, expected "CMID". Key prefixes: '
                              f'{prefix_summary(list(state))}')
    lacking = [k for k in (STUDENT_PREFIX + 'mask_token', ) if k not in state]
    if not any(k.startswith(TEACHER_PREFIX) for k in state):
        lacking.append(TEACHER_PREFIX + '*')
    if lacking:
        raise ConversionError(
            f'{path}: not a CMID checkpoint: missing {lacking} '
            f'(model type in meta: {mtype!r}); key prefixes found: '
            f'{prefix_summary(list(state), depth=2)}')
    if mtype is None and notes is not None:
        notes.append(f'{path} has no readable config in meta["cfg"]; the backbone structure '
                     'is inferred from its keys')
    return state, model_cfg


def backbone_state(state: dict, teacher: bool) -> dict:
    """Unprefixed student (or teacher) backbone weights, mask token dropped."""
    prefix = TEACHER_PREFIX if teacher else STUDENT_PREFIX
    out = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    for name in DROPPED:
        out.pop(name, None)
    return out


def spec_from_cfg(backbone_cfg: dict, inferred: BackboneSpec) -> tuple[BackboneSpec, dict]:
    """Check the backbone config against the weights with the stock mmpretrain class.

    Returns:
        The spec to use (the inferred one; the config must agree with it) and
        the stock-class kwargs taken from the config.
    """
    btype = str(backbone_cfg.get('type', '')).split('.')[-1]
    kind = STOCK_OF.get(btype)
    if kind is None:
        raise ConversionError(f'backbone type {btype!r} in the checkpoint config is not one '
                              f'of {sorted(STOCK_OF)}')
    if kind != inferred.kind:
        raise ConversionError(f'the config says {btype} ({kind}) but the weights are a '
                              f'{inferred.kind}')
    from mmpretrain.models import backbones
    cls = getattr(backbones, kind)
    kwargs = filter_kwargs(cls, backbone_cfg)
    if kind == 'VisionTransformer':
        kwargs.pop('out_type', None)  # CMIDViT forces 'featmap'; no key depends on it
        arch = kwargs.get('arch', 'base')
        arch = cls.arch_zoo[arch.lower()] if isinstance(arch, str) else arch
        if 'num_heads' in arch:  # not visible in the weights
            inferred = BackboneSpec(inferred.kind, {**inferred.params,
                                                    'num_heads': int(arch['num_heads'])})
    return inferred, kwargs


def extract(src: str | Path, dst: str | Path, target: str = 'mmpretrain',
            teacher: bool = False, prefix: str = BACKBONE_PREFIX,
            notes: list[str] | None = None) -> ExportResult:
    """Export the student (``teacher=True``: EMA teacher) backbone of a CMID checkpoint.

    The structure comes from the checkpoint's config when it has one (checked
    against the weights with the stock mmpretrain class), else from the keys.
    ``dst`` is written only when the weights match the source and the target
    stock classes key for key (see :func:`~.writer.export_backbone`).

    Args:
        src: CMID checkpoint. dst: output file. target: package layout to write.
        teacher: Export the EMA teacher. prefix: ``'backbone.'`` or ``''``.
        notes: Where to append remarks for the user.
    """
    if target not in TARGETS:
        raise ConversionError(f'--target must be one of {TARGETS}, got {target!r}')
    state, model_cfg = read_cmid_checkpoint(src, notes)
    weights = backbone_state(state, teacher)
    if not weights:
        raise ConversionError(f'{src}: no {"teacher" if teacher else "student"} backbone keys')
    spec = infer_spec(weights, where=f'{src} backbone')
    if model_cfg and isinstance(model_cfg.get('backbone'), dict):
        from mmpretrain.models import backbones
        spec, kwargs = spec_from_cfg(model_cfg['backbone'], spec)
        source_model = getattr(backbones, spec.kind)(**kwargs)
    else:
        source_model = build_source_stock(spec)
    meta = {'source': str(src), 'branch': 'teacher' if teacher else 'student'}
    return export_backbone(weights, spec, target, dst, meta, source_model=source_model,
                           dropped=DROPPED, prefix=prefix)
