"""The shipped MillionAID / Potsdam pretraining configs state the reference's effective
learning rate for their total batch, scale it from that batch, and follow the reference's
learning-rate curve (official-CMID Pretrain/: main_pretrain.py, Exploring/trainer.py and
its CosineAnnealingLrUpdaterHook)."""
from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope
from mmengine.runner import Runner

REPO = Path(__file__).resolve().parents[2]
PRETRAIN = sorted((REPO / 'configs/cmid').glob('cmid*_4xb64-*.py'))
REF_LR_PER_GPU = 1e-3  # pt_config.yaml `lr`, per GPU batch of 64 (multiplied by world size)
REF_GPU_BATCH = 64
REF_MIN_LR, REF_WARMUP_EPOCHS, REF_WARMUP_FACTOR = 1e-6, 10, 0.01


def _gpus_and_batch(path: Path) -> tuple[int, int]:
    gpus, batch = re.search(r'_(\d+)xb(\d+)-', path.name).groups()
    return int(gpus), int(batch)


def test_the_pretraining_configs_are_found():
    names = {p.name for p in PRETRAIN}
    assert {'cmid_resnet50_4xb64-adan-200e_millionaid.py',
            'cmid_swin-base_4xb64-adan-200e_millionaid.py',
            'cmid_resnet50_4xb64-adan-400e_potsdam.py',
            'cmid_swin-base_4xb64-adan-400e_potsdam.py'} <= names


@pytest.mark.parametrize('path', PRETRAIN, ids=lambda p: p.name)
def test_effective_lr_for_the_total_batch(path):
    cfg = Config.fromfile(str(path))
    gpus, per_gpu = _gpus_and_batch(path)
    assert cfg.train_dataloader.batch_size == per_gpu == REF_GPU_BATCH
    total = gpus * per_gpu
    assert cfg.auto_scale_lr.base_batch_size == total == 256
    # the reference's lr x world size: 4 GPUs x 1e-3 = 4e-3 at 256 images
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(REF_LR_PER_GPU * total / REF_GPU_BATCH)


@pytest.mark.parametrize('world_size,expected', [(1, 1e-3), (4, 4e-3), (8, 8e-3)])
def test_auto_scale_lr_scales_from_the_stated_batch(world_size, expected):
    """mmengine's own Runner.scale_lr (what --auto-scale-lr runs) on the shipped config."""
    cfg = Config.fromfile(str(REPO / 'configs/cmid/cmid_resnet50_4xb64-adan-200e_millionaid.py'))
    init_default_scope(cfg.default_scope)
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), cfg.optim_wrapper)
    runner = SimpleNamespace(_train_dataloader=cfg.train_dataloader, world_size=world_size,
                             param_schedulers=None, logger=MMLogger.get_current_instance())
    Runner.scale_lr(runner, wrapper, dict(cfg.auto_scale_lr, enable=True))
    assert [g['lr'] for g in wrapper.optimizer.param_groups] == \
        pytest.approx([expected] * len(wrapper.optimizer.param_groups))


def _reference_lr(base_lr: float, it: int, iters: int, warmup_iters: int) -> float:
    """The reference: cosine from base_lr to min_lr over *all* iterations, multiplied by a
    linear warm-up factor 0.01 -> 1 over the warm-up epochs (mmcv-1.x hook semantics)."""
    regular = REF_MIN_LR + 0.5 * (base_lr - REF_MIN_LR) * (math.cos(math.pi * it / iters) + 1)
    if it >= warmup_iters:
        return regular
    k = (1 - it / warmup_iters) * (1 - REF_WARMUP_FACTOR)
    return regular * (1 - k)


@pytest.mark.parametrize('path', PRETRAIN, ids=lambda p: p.name)
def test_lr_curve_follows_the_reference(path):
    cfg = Config.fromfile(str(path))
    epoch_len = 3
    iters = cfg.train_cfg.max_epochs * epoch_len
    base_lr = cfg.optim_wrapper.optimizer.lr
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    schedulers = [PARAM_SCHEDULERS.build(s.to_dict(),
                                         default_args=dict(optimizer=optimizer,
                                                           epoch_length=epoch_len))
                  for s in cfg.param_scheduler]
    got = []
    for _ in range(iters):
        got.append(optimizer.param_groups[0]['lr'])
        for s in schedulers:
            s.step()
    warmup = REF_WARMUP_EPOCHS * epoch_len
    # after the warm-up: the reference's cosine over the whole run, to float precision
    want = [_reference_lr(base_lr, i, iters, warmup) for i in range(iters)]
    assert got[warmup:] == pytest.approx(want[warmup:], rel=1e-5)
    # during it: the reference's linear factor times that cosine; mmengine's LinearLR reaches
    # 1 on the last warm-up iteration, the reference one iteration later
    want = [_reference_lr(base_lr, i, iters, warmup - 1) for i in range(warmup)]
    assert got[:warmup] == pytest.approx(want, rel=1e-5)
    assert got[-1] == pytest.approx(REF_MIN_LR, rel=0.05)
