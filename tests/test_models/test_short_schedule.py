"""The short-schedule rules, and the CPU config that follows them."""
import math

import pytest
from mmengine.config import Config

from cmid_mm.models.utils import cmid_short_schedule
from tests.helpers import TINY_CFG


def test_the_rules_give_the_reference_values_for_the_reference_run():
    # MillionAID ~1M images, 4 x 64, 200 epochs: queue capped at 65536, EMA 0.004, 50 epochs
    s = cmid_short_schedule(1_000_000, 64, 200, world_size=4)
    assert s['global_head']['queue_len'] == 65536
    assert s['teacher']['momentum'] == 0.004
    iters = 1_000_000 // 256 * 200
    assert s['local_loss']['warmup_teacher_temp_iters'] == round(iters / 4)  # = 50 epochs


def test_the_rules_for_a_short_run():
    s = cmid_short_schedule(286, 32, 20)  # 8 iterations per epoch, T = 160
    assert s['global_head']['queue_len'] == 128  # 512 keys per epoch / 4
    assert s['teacher']['momentum'] == pytest.approx(6 / 160)
    assert math.exp(-s['teacher']['momentum'] * 160 / 2) == pytest.approx(math.exp(-3))
    assert s['local_loss'] == dict(warmup_teacher_temp_epochs=None, warmup_teacher_temp_iters=40)
    # never shorter than one step's keys
    assert cmid_short_schedule(70, 32, 1)['global_head']['queue_len'] == 64
    with pytest.raises(ValueError, match='no full batch'):
        cmid_short_schedule(10, 32, 1)


def test_cpu_config_follows_the_rules_for_its_tiles(pretrain_tiles):
    cfg = Config.fromfile(str(TINY_CFG))
    n = len(list(pretrain_tiles.glob('*.png')))
    rules = cmid_short_schedule(n, cfg.train_dataloader.batch_size, cfg.train_cfg.max_epochs)
    got = dict(global_head=dict(queue_len=cfg.model.global_head.queue_len),
               teacher=dict(momentum=cfg.model.teacher.momentum),
               local_loss=dict(
                   warmup_teacher_temp_epochs=cfg.model.local_loss.warmup_teacher_temp_epochs,
                   warmup_teacher_temp_iters=cfg.model.local_loss.warmup_teacher_temp_iters))
    assert got == rules, (f'{TINY_CFG.name} does not follow the short-schedule rules for its '
                          f'{n} tiles: set {rules}')


def test_very_short_runs_get_an_ema_rate_the_model_accepts():
    """6 / T exceeds 0.5 below 12 iterations; the rule caps it where check_teacher allows."""
    from cmid_mm.models.algorithms.cmid_checks import check_teacher
    from cmid_mm.models.utils import cmid_short_schedule
    rate = cmid_short_schedule(32, 8, 2)['teacher']['momentum']  # T = 8
    assert rate == 0.5
    check_teacher(dict(type='CosineEMA', momentum=rate))
