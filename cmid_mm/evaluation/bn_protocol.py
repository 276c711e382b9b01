"""The BatchNorm protocol of frozen-feature evaluation: recalibrate on clean tiles.

Why: a CMID student's BN running statistics were accumulated on masked,
mean-filled images; other methods' on their own augmented views; the EMA
teacher (in mmengine's averaged model) may even carry copies of the student's.
Frozen features are only comparable if every method's statistics describe the
same input distribution. So, for every method (and random init) alike:

1. reset the running statistics of every BatchNorm layer,
2. set ``momentum=None`` (PyTorch's cumulative moving average: after ``n``
   batches ``running_mean`` is the plain average of the ``n`` batch means and
   ``running_var`` the average of the ``n`` unbiased batch variances),
3. forward ``num_batches`` batches of clean (unmasked, unaugmented) unlabeled
   tiles with only the BN layers in train mode and no gradient,
4. restore each layer's momentum and put the model in eval mode.

Weights and biases (and every other parameter) are not touched. Evaluating
the EMA teacher instead is CMID/BYOL/MoCo-specific (random init, SimMIM and
colour features have none) and its statistics depend on how its buffers were
updated, so the teacher is an option of ``eval_frozen.py``, not the protocol.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def bn_layers(module: nn.Module) -> list[_BatchNorm]:
    """BatchNorm layers of a module (``BatchNorm1d/2d/3d``, ``SyncBatchNorm``) that
    track running statistics."""
    return [m for m in module.modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recalibrate_bn(module: nn.Module, batches: Iterable[torch.Tensor], num_batches: int,
                   forward: Callable[[torch.Tensor], object] | None = None) -> int:
    """Re-estimate BN running statistics on clean data (see the module docstring).

    Args:
        module: The model whose BN layers are recalibrated (all of them).
        batches: Model inputs, e.g. (B, C, H, W) normalised images; the first
            ``num_batches`` are used.
        num_batches: How many batches to forward (>= 1).
        forward: What to call on each batch; defaults to ``module``. Use
            e.g. ``model.extract_feat`` to run only the backbone.

    Returns:
        int: Batches actually forwarded (fewer than ``num_batches`` if
        ``batches`` ran out).

    Raises:
        ValueError: ``num_batches < 1``, the module has no BN layer, or
            ``batches`` is empty.
    """
    if num_batches < 1:
        raise ValueError(f'num_batches must be >= 1, got {num_batches}')
    layers = bn_layers(module)
    if not layers:
        raise ValueError(f'{type(module).__name__} has no BatchNorm layer with running '
                         'statistics to recalibrate')
    forward = forward or module
    momenta = [m.momentum for m in layers]
    module.eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
        m.train()
    seen = 0
    try:
        for x in batches:
            if seen == num_batches:
                break
            forward(x)
            seen += 1
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        module.eval()
    if seen == 0:
        raise ValueError('recalibrate_bn: no batch to forward (empty data)')
    return seen


def recalibrate_bn_on_tiles(model: nn.Module, tile_dir: str, num_batches: int,
                            batch_size: int = 32, size: int | None = None,
                            seed: int = 0, load_cfg: dict | None = None) -> int:
    """:func:`recalibrate_bn` of an mmpretrain model on a folder of unlabeled tiles.

    The tiles are read with ``LoadRSImage`` (optionally resized, bicubic, to
    ``size`` x ``size``), drawn in a seeded random order, normalised by the
    model's ``data_preprocessor`` and passed through ``model.extract_feat``
    (the backbone, and the neck if ``extract_feat`` uses one).

    Args:
        model: Model with ``data_preprocessor`` and ``extract_feat``.
        tile_dir: Folder of image tiles (e.g. ``pretrain/rgb`` of the data root:
            the clean train-region tiles every method was pretrained on).
        num_batches: Batches of ``batch_size`` tiles to forward.
        batch_size: Tiles per batch.
        size: Resize side, or None to keep the tiles' size.
        seed: Seed of the tile order.
        load_cfg: ``LoadRSImage`` arguments (e.g. ``num_bands=13,
            uint16_scale=10000, to_float32=True`` for ``pretrain/msi``); default:
            none (8-bit RGB).

    Returns:
        int: Batches forwarded.
    """
    from mmengine.dataset import default_collate
    from mmpretrain.registry import DATASETS
    from torch.utils.data import DataLoader

    pipeline = [dict(type='LoadRSImage', **(load_cfg or {}))]
    if size is not None:
        pipeline.append(dict(type='Resize', scale=(size, size), interpolation='bicubic'))
    pipeline.append(dict(type='PackInputs'))
    dataset = DATASETS.build(dict(_scope_='mmpretrain', type='CustomDataset',
                                  data_root=str(tile_dir), with_label=False, pipeline=pipeline))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=default_collate,
                        generator=torch.Generator().manual_seed(seed))
    inputs = (model.data_preprocessor(batch, training=False)['inputs'] for batch in loader)
    return recalibrate_bn(model, inputs, num_batches, forward=model.extract_feat)
