"""Where a CMID config runs its views' photometric ops: in the data workers (per image,
the reference's way) or on the training device (batched, in ``CMIDDataPreprocessor``).

A config says it by where the ops are: in ``CMIDMultiView.view_pipelines`` (workers) or
in ``model.data_preprocessor.view_batch_augments`` (device). :func:`place_photometric`
moves them from one to the other, together with the integer-to-reflectance scaling
(``LoadRSImage(uint16_scale=..., to_float32=True)`` in the workers vs
``model.data_preprocessor.uint16_scale`` on the device), so that both placements draw the
same parameters from the same distributions and apply the same formulas; ``tools/train.py
--views`` and the benchmarks use it.
"""
from __future__ import annotations

from mmengine.config import Config, ConfigDict

__all__ = ['photometric_placement', 'place_photometric']

PLACES = ('worker', 'device')


def _views_step(cfg: Config) -> dict:
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.get('type') == 'CMIDMultiView':
            return t
    raise ValueError(f'{cfg.filename}: train_dataloader.dataset.pipeline has no CMIDMultiView')


def _loader_step(cfg: Config) -> dict | None:
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.get('type') == 'LoadRSImage':
            return t
    return None


def photometric_placement(cfg: Config) -> str:
    """``'device'`` when ``model.data_preprocessor.view_batch_augments`` holds an op,
    else ``'worker'``."""
    ops = cfg.model.get('data_preprocessor', {}).get('view_batch_augments') or []
    return 'device' if any(len(v) for v in ops) else 'worker'


def place_photometric(cfg: Config, where: str) -> Config:
    """Move the views' photometric ops (and the uint16 scaling) to ``where``, in place.

    Args:
        cfg: a CMID pretraining config (``CMIDMultiView`` in the train pipeline,
            ``CMIDDataPreprocessor``).
        where: ``'worker'`` or ``'device'``.

    Returns:
        ``cfg``.

    Raises:
        ValueError: ``where`` is unknown; both places hold ops for the same view; or an
            op in the workers has no batched version (named, with the key).
    """
    if where not in PLACES:
        raise ValueError(f'photometric ops run on one of {PLACES}, got {where!r}')
    views = _views_step(cfg)
    pre = cfg.model.setdefault('data_preprocessor', ConfigDict(type='CMIDDataPreprocessor'))
    device_ops = [list(v) for v in (pre.get('view_batch_augments') or [[], []])]
    worker_ops = [list(v) for v in views['view_pipelines']]
    for v, (w, d) in enumerate(zip(worker_ops, device_ops)):
        if w and d:
            raise ValueError(
                f'{cfg.filename}: view {v} has photometric ops both in the workers '
                f'(CMIDMultiView.view_pipelines[{v}]) and on the device '
                f'(model.data_preprocessor.view_batch_augments[{v}]): it would be '
                'augmented twice; keep one')
    ops = [w or d for w, d in zip(worker_ops, device_ops)]
    load = _loader_step(cfg)
    if where == 'worker':
        views['view_pipelines'] = ops
        pre.pop('view_batch_augments', None)
        scale = pre.pop('uint16_scale', None)
        if scale is not None and load is not None:
            load.update(uint16_scale=scale, to_float32=True)
        return cfg
    from cmid_mm.models.utils.batch_photometric import BATCH_OPS
    for v, view in enumerate(ops):
        for i, op in enumerate(view):
            if op.get('type') not in BATCH_OPS:
                raise ValueError(
                    f'{cfg.filename}: CMIDMultiView.view_pipelines[{v}][{i}] is '
                    f'{op.get("type")!r}, which has no batched version (batched: '
                    f'{sorted(BATCH_OPS)}); it can only run in the workers')
    views['view_pipelines'] = [[] for _ in ops]
    pre['view_batch_augments'] = ops
    if load is not None and load.get('uint16_scale') not in (None, 'none'):
        pre['uint16_scale'] = load.pop('uint16_scale')
        load.pop('to_float32', None)  # the workers keep the file's integers
    return cfg
