"""The shared pretraining budget of the benchmarks: profiles, whole epochs, one schedule.

Every method of a comparison trains with the same backbone, width, image size, batch,
number of optimizer steps, seeds, optimizer and schedule (Adan + warm-up + cosine); only
the objective, its views and heads differ (:mod:`.methods`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

#: the EMA rules give a rate 6 / T, which must stay <= 0.5 (mmengine convention)
MIN_ITERS = 12


@dataclass(frozen=True)
class Profile:
    """Shared settings of one benchmark profile (``ssl_compare.py --profile``)."""
    name: str
    backbones: tuple[str, ...]  # keys of methods.BACKBONES
    crop_size: int
    width: int | None  # ResNet stem/base channels (None: the config's)
    batch_size: int
    iters: int
    lr: float
    num_workers: int
    threads: int | None  # torch threads per training process; None: torch's default
    amp: bool
    bn_recalib: int  # BN recalibration batches (x 32 clean corpus tiles) for every row
    #: keys --backbones may name beyond the default ``backbones`` (not run unless named)
    extra_backbones: tuple[str, ...] = ()


PROFILES = {
    # 2 cores: one for the model (1 thread), one for the data worker. Two torch threads
    # plus busy data workers oversubscribe the cores, and OpenMP's spinning barriers then
    # make steps erratically slow. Width 16 (a quarter of ResNet-18's channels), 96 px
    # (a 3 x 3 last-stage grid, the smallest that holds CMID's 8 matched positions),
    # batch 16: sized in docs/benchmarks.md so that 3 seeds x 4 methods + 3 ablations,
    # >= 1000 steps each, take about 2 hours on 2 cores.
    'cpu': Profile('cpu', ('resnet18', ), crop_size=96, width=16, batch_size=16, iters=1500,
                   lr=2e-3, num_workers=1, threads=1, amp=False, bn_recalib=8,
                   extra_backbones=('vit-tiny', )),
    'gpu': Profile('gpu', ('resnet50', 'swin-base'), crop_size=224, width=None, batch_size=64,
                   iters=20000, lr=1e-3, num_workers=8, threads=None, amp=True, bn_recalib=8),
}


@dataclass(frozen=True)
class Budget:
    """What one pretraining run of a comparison shares with the others.

    Attributes:
        batch_size: Images per optimizer step (``drop_last`` batches).
        lr: Adan learning rate.
        crop_size: Side of the views, crops and mask generators.
        num_workers: Dataloader workers.
        tiles: Use only the first N tiles (None: all).
        amp: bf16 ``AmpOptimWrapper`` when a GPU is present.
    """
    batch_size: int
    lr: float
    crop_size: int
    num_workers: int
    tiles: int | None = None
    amp: bool = False


def plan_epochs(num_tiles: int, batch_size: int, iters: int) -> tuple[int, int]:
    """Whole epochs (``drop_last``) giving at least ``iters`` optimizer steps.

    Returns:
        (iterations per epoch, epochs); every method runs ``ipe * epochs`` steps.

    Raises:
        ValueError: ``num_tiles`` make no full batch.
    """
    ipe = num_tiles // batch_size
    if ipe < 1:
        raise ValueError(f'{num_tiles} tiles make no full batch of {batch_size}')
    return ipe, math.ceil(iters / ipe)


def warmup_cosine(epochs: int) -> list[dict]:
    """The shared schedule: linear warm-up (x0.01 -> 1) over ~10 % of the epochs, then
    cosine to 1e-6, per iteration (as CMID's configs)."""
    warm = max(1, epochs // 10) if epochs >= 3 else 0
    sched = []
    if warm:
        sched.append(dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warm,
                          convert_to_iter_based=True))
    sched.append(dict(type='CosineAnnealingLR', T_max=epochs - warm, eta_min=1e-6,
                      by_epoch=True, begin=warm, end=epochs, convert_to_iter_based=True))
    return sched
