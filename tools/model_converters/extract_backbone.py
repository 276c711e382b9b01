"""Extract the backbone of a CMID checkpoint for downstream training.

Usage::

    python tools/model_converters/extract_backbone.py CMID_CKPT OUT \\
        [--target mmpretrain|mmseg|mmdet|mmrotate] [--teacher]

Input: a checkpoint written by CMID pretraining in this repository (an
mmengine checkpoint whose ``state_dict`` holds the student ``backbone.*``
with its ``backbone.mask_token``, the EMA teacher ``teacher.module.*``, the
heads and the queue, and whose ``meta['cfg']`` is a config with
``model.type == 'CMID'``).

Output: ``{'meta': {'cmid_export': {...}}, 'state_dict': {'backbone.<key>': ...}}``
with the student backbone (``--teacher``: the EMA teacher backbone), the mask
token dropped, in the key layout of the stock ``ResNet`` / ``SwinTransformer``
class of the target package (mmrotate uses mmdet's backbones). Use it with

    init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')

in the backbone of any config under ``configs/benchmarks/`` (or ``load_from=OUT``).

The tool builds the target package's stock class for the backbone (from the
checkpoint's config when it has one, else from the keys), compares keys and
shapes, prints the result, and exits with status 1 listing the missing,
unexpected or mismatched keys when they are not all equal.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backbone_layout import (  # noqa: E402
    TARGETS,
    BackboneSpec,
    ConversionError,
    build_source_stock,
    build_stock,
    compare_with_module,
    export_dict,
    filter_kwargs,
    infer_spec,
    load_weights_only,
    plain_data,
    prefix_summary,
    stock_kwargs,
    to_target_layout,
)

STUDENT_PREFIX = 'backbone.'
TEACHER_PREFIX = 'teacher.module.backbone.'
DROPPED = ('mask_token', )
# CMID backbone types -> the stock mmpretrain class they extend (key-for-key + mask token).
STOCK_OF = {'CMIDResNet': 'ResNet', 'CMIDSwinTransformer': 'SwinTransformer',
            'ResNet': 'ResNet', 'SwinTransformer': 'SwinTransformer'}


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


def read_cmid_checkpoint(path: str | Path) -> tuple[dict, dict | None]:
    """Load ``path`` and check it against the CMID checkpoint contract.

    Returns:
        The ``state_dict`` and the config's ``model`` dict (None when the
        checkpoint has no readable config).

    Raises:
        ConversionError: not a CMID checkpoint; the message says what it is.
    """
    ckpt = load_weights_only(path)
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
    if mtype is None:
        print(f'[extract_backbone] note: {path} has no readable config in meta["cfg"]; the '
              'backbone structure is inferred from its keys', file=sys.stderr)
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
    return inferred, filter_kwargs(cls, backbone_cfg)


def extract(src: str | Path, dst: str | Path, target: str = 'mmpretrain',
            teacher: bool = False) -> dict:
    """Write the backbone-only checkpoint; return a report dict.

    The report has ``spec`` (structure), ``source_check`` (weights vs. the stock
    mmpretrain class built from the checkpoint config), ``target_check``
    (converted weights vs. the target's stock class), ``initialised`` (keys
    added with initial values) and ``ok``. The file is written only when both
    checks pass.
    """
    if target not in TARGETS:
        raise ConversionError(f'--target must be one of {TARGETS}, got {target!r}')
    state, model_cfg = read_cmid_checkpoint(src)
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
    source_check = compare_with_module(weights, source_model)
    converted, added, removed = to_target_layout(weights, spec, target)
    target_model = build_stock(spec, target)
    target_check = compare_with_module(converted, target_model)
    ok = source_check.ok and target_check.ok
    report = dict(spec=spec, source_check=source_check, target_check=target_check,
                  initialised=added, removed=removed, ok=ok)
    if ok:
        meta = {'cmid_export': {
            'source': str(src), 'branch': 'teacher' if teacher else 'student',
            'target': target, 'backbone_type': spec.kind,
            'backbone_kwargs': plain_data(stock_kwargs(spec, target)),
            'dropped_keys': list(DROPPED) + removed,
            'initialised_keys': ['backbone.' + k for k in added],
        }}
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        torch.save(export_dict(converted, meta), dst)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='CMID checkpoint written by pretraining')
    parser.add_argument('dst', help='output backbone-only checkpoint')
    parser.add_argument('--target', default='mmpretrain', choices=TARGETS,
                        help='package whose stock backbone layout to write (default mmpretrain;'
                             ' mmrotate = mmdet)')
    parser.add_argument('--teacher', action='store_true',
                        help='export the EMA teacher backbone instead of the student')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = extract(args.src, args.dst, args.target, args.teacher)
    except ConversionError as err:
        print(f'[extract_backbone] error: {err}', file=sys.stderr)
        return 1
    spec = report['spec']
    print(f'[extract_backbone] {"teacher" if args.teacher else "student"} backbone: '
          f'{spec.describe()}')
    print(f'[extract_backbone] vs stock mmpretrain {spec.kind} (checkpoint config): '
          f'{report["source_check"].describe()}')
    print(f'[extract_backbone] vs stock {args.target} {spec.kind}: '
          f'{report["target_check"].describe()}')
    if report['initialised']:
        print(f'[extract_backbone] added with initial values (not pretrained): '
              f'{report["initialised"]}')
    if report['removed']:
        print(f'[extract_backbone] left out (the target class has no such layer): '
              f'{report["removed"]}')
    if not report['ok']:
        print('[extract_backbone] error: key mismatch, nothing written', file=sys.stderr)
        return 1
    print(f'[extract_backbone] wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
