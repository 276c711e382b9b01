"""How a method's backbone leaves its pretraining checkpoint for a fine-tune.

:attr:`Method.export <cmid_mm.benchmark.methods.Method>` names the way: ``'cmid'`` exports
the student of a CMID checkpoint through :func:`cmid_mm.export.extract` (the one export
path of ``tools/model_converters/extract_backbone.py``) or takes a file it exported;
``'backbone'`` writes the ``backbone.*`` tensors of an mmpretrain checkpoint (MoCo v2, ...).
A third source, for every method alike, is the ``backbone.pth`` a benchmark run leaves
(:func:`.child_run.train_one`: the unprefixed backbone state of the trained model):
:func:`export_run_backbone` maps it into the target's stock class with the same checks as
``extract_backbone.py``. Both give a file that
``init_cfg=dict(type='Pretrained', prefix='backbone.')`` loads.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .methods import METHODS


def backbone_tensors(path: str | Path, what: str) -> dict:
    """The ``backbone.*`` tensors of a checkpoint (``weights_only=True``).

    Raises:
        ValueError: naming the file and the key prefixes found when it has none.
    """
    from cmid_mm.export import prefix_summary
    from cmid_mm.utils.checkpoint import safe_load_checkpoint
    ckpt = safe_load_checkpoint(path)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
    out = {k: v for k, v in state.items() if k.startswith('backbone.')}
    if not out:
        raise ValueError(f'{path}: expected a {what} checkpoint with "backbone.*" keys in its '
                         f'state_dict, found key prefixes {prefix_summary(list(state))}')
    return out


def export_cmid(src: Path, dst: Path, target: str = 'mmseg',
                log: Callable[[str], None] = print) -> Path:
    """Export the student backbone of a CMID checkpoint for ``target`` (or take a file that
    ``extract_backbone.py`` already exported, which is returned as is).

    Raises:
        ValueError: ``src`` was exported for another target than ``target``.
        RuntimeError: its weights do not match the stock class of ``target``.
    """
    from cmid_mm.export import extract
    from cmid_mm.utils.checkpoint import safe_load_checkpoint
    ckpt = safe_load_checkpoint(src)
    if isinstance(ckpt, dict) and 'cmid_export' in (ckpt.get('meta') or {}):
        found = ckpt['meta']['cmid_export'].get('target')
        if found not in (None, 'mmseg', 'mmpretrain', 'mmdet'):
            raise ValueError(f'{src}: exported for --target {found!r}, expected {target}')
        log(f'cmid: {src} is an exported backbone file, used as is')
        return src
    dst.parent.mkdir(parents=True, exist_ok=True)
    report = extract(src, dst, target=target)
    if not report.ok:
        raise RuntimeError(f'{src}: the student backbone does not match the stock {target} '
                           f'class, nothing written: {report.target_check.describe()}')
    log(f'cmid: exported the student backbone of {src} to {dst} (--target {target})')
    return dst


def export_backbone_prefix(src: Path, dst: Path, method: str,
                           log: Callable[[str], None] = print) -> Path:
    """Write the ``backbone.*`` tensors of ``method``'s mmpretrain checkpoint to ``dst``."""
    import torch
    state = backbone_tensors(src, METHODS[method].display)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'meta': {'source': str(src)}, 'state_dict': state}, dst)
    log(f'{method}: {len(state)} backbone tensors of {src} written to {dst}')
    return dst


def is_run_backbone(ckpt: object) -> bool:
    """Whether a loaded file is a benchmark run's ``backbone.pth``: a flat dict of tensors
    (no ``state_dict`` / ``meta``) with unprefixed backbone keys."""
    import torch
    return (isinstance(ckpt, dict) and bool(ckpt)
            and all(isinstance(v, torch.Tensor) for v in ckpt.values())
            and not any(k.startswith('backbone.') for k in ckpt))


def export_run_backbone(src: Path, dst: Path, method: str, target: str = 'mmseg',
                        log: Callable[[str], None] = print, state: dict | None = None) -> Path:
    """Export the ``backbone.pth`` of a benchmark run of ``method`` for ``target``.

    The structure (depth, widths) is inferred from the tensors; a mask token (CMID's and
    SimMIM's ``CMIDResNet``) is dropped, as ``extract_backbone.py`` drops it. ``dst`` is
    written only when the weights match the stock mmpretrain class and, mapped, the
    target's stock class key for key.

    ``state``: the file's contents when the caller has already loaded it.

    Raises:
        ValueError: ``src`` is not a run's backbone file.
        RuntimeError: its weights do not match the stock classes (nothing written).
    """
    from cmid_mm.export.cmid_checkpoint import DROPPED
    from cmid_mm.export.layout import infer_spec
    from cmid_mm.export.writer import export_backbone
    from cmid_mm.utils.checkpoint import safe_load_checkpoint
    state = safe_load_checkpoint(src) if state is None else state
    if not is_run_backbone(state):
        raise ValueError(f'{src}: expected the backbone.pth of a benchmark run (a flat dict '
                         'of unprefixed backbone tensors)')
    weights = {k: v for k, v in state.items() if k not in DROPPED}
    spec = infer_spec(weights, where=f'{src}')
    meta = {'source': str(src), 'method': method, 'branch': 'benchmark run backbone'}
    report = export_backbone(weights, spec, target, dst, meta,
                             dropped=[k for k in DROPPED if k in state])
    if not report.ok:
        raise RuntimeError(f'{src}: the {METHODS[method].display} backbone does not match '
                           f'the stock classes, nothing written: '
                           f'{report.source_check.describe()}; '
                           f'{report.target_check.describe()}')
    log(f'{method}: exported the run backbone {src} to {dst} (--target {target}, '
        f'{spec.describe()})')
    return dst


def export_for_finetune(method: str, src: Path, dst: Path, target: str = 'mmseg',
                        log: Callable[[str], None] = print) -> Path:
    """The backbone of ``method``'s checkpoint ``src`` as a ``Pretrained`` file (``dst``, or
    ``src`` itself when it is one already), the way its :data:`METHODS` entry says; a
    benchmark run's ``backbone.pth`` goes through :func:`export_run_backbone` for any
    method."""
    from cmid_mm.utils.checkpoint import safe_load_checkpoint
    ckpt = safe_load_checkpoint(src)
    if is_run_backbone(ckpt):
        return export_run_backbone(src, dst, method, target, log, state=ckpt)
    kind = METHODS[method].export
    if kind == 'cmid':
        return export_cmid(src, dst, target, log)
    if kind == 'backbone':
        return export_backbone_prefix(src, dst, method, log)
    raise ValueError(f'METHODS[{method!r}].export = {kind!r}: expected "cmid" or "backbone"')
