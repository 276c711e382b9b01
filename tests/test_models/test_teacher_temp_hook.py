"""LocalTeacherTempHook: epoch and iteration reach the local loss; skip mode needs its wrapper.

(The hook lives in cmid_mm/engine/hooks/; its test sits here beside the CMID model it drives.)
"""
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.registry import HOOKS, MODELS

from cmid_mm.engine.optim_wrapper import SkipNonFiniteOptimWrapper
from tests.helpers import tiny_cmid_cfg


def _runner(model, wrapper_cls=SkipNonFiniteOptimWrapper, epoch=0, it=0):
    params = [p for p in model.parameters() if p.requires_grad]
    return SimpleNamespace(model=model, epoch=epoch, iter=it,
                           optim_wrapper=wrapper_cls(torch.optim.SGD(params, lr=0.1)))


def test_iteration_warmup_follows_the_runner():
    MessageHub.get_current_instance().update_info('max_iters', 100)
    model = MODELS.build(tiny_cmid_cfg())  # CPU config: warm-up over 40 iterations
    hook = HOOKS.build(dict(type='LocalTeacherTempHook'))
    runner = _runner(model, OptimWrapper, epoch=3, it=20)
    hook.before_train(runner)  # e.g. a resumed run at iteration 20
    assert model.local_loss.current_teacher_temp == pytest.approx(0.04 + 0.03 * 20 / 40)
    runner.iter = 40
    hook.before_train_iter(runner, batch_idx=0)
    assert model.local_loss.current_teacher_temp == pytest.approx(0.07)
    assert model.local_loss.epoch == 3


def test_epoch_warmup_follows_the_runner():
    MessageHub.get_current_instance().update_info('max_iters', 100)
    cfg = tiny_cmid_cfg()
    cfg['local_loss'].update(warmup_teacher_temp_epochs=4, warmup_teacher_temp_iters=None)
    model = MODELS.build(cfg)
    hook = HOOKS.build(dict(type='LocalTeacherTempHook'))
    runner = _runner(model, OptimWrapper, epoch=2, it=500)
    hook.before_train_epoch(runner)
    assert model.local_loss.current_teacher_temp == pytest.approx(0.06)  # linspace(.04, .07, 4)


def test_skip_mode_with_a_plain_wrapper_stops_before_training():
    MessageHub.get_current_instance().update_info('max_iters', 100)
    hook = HOOKS.build(dict(type='LocalTeacherTempHook'))
    model = MODELS.build(tiny_cmid_cfg(nonfinite_loss='skip'))
    with pytest.raises(ValueError, match="needs optim_wrapper.type='SkipNonFiniteOptimWrapper'"):
        hook.before_train(_runner(model, OptimWrapper))
    hook.before_train(_runner(model, SkipNonFiniteOptimWrapper))  # accepted
