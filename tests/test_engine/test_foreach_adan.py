"""The configs' Adan (mmpretrain) takes its multi-tensor step; it equals the loop step."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.engine.optimizers import Adan
from torch import nn

from cmid_mm.engine import check_adan_foreach
from tests.helpers import REPO

SCHEDULE = REPO / 'configs/cmid/_base_/schedules/adan_200e.py'


def _model() -> nn.Module:
    torch.manual_seed(0)
    # no conv bias before the BN (as in ResNet): its gradient is rounding noise, whose
    # Adan update m / sqrt(n) is O(1) and differs between any two summation orders
    return nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 4))


def _train(foreach: bool, steps: int = 5, **kwargs) -> nn.Module:
    model = _model()
    opt = Adan(model.parameters(), lr=1e-2, weight_decay=0.02, betas=(0.98, 0.92, 0.99),
               foreach=foreach, **kwargs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        opt.zero_grad()
        x = torch.randn(4, 3, 6, 6, generator=gen)
        model(x).square().mean().backward()
        opt.step()
    return model


@pytest.mark.parametrize('kwargs', [{}, dict(max_grad_norm=0.1)])
def test_foreach_step_matches_the_loop(kwargs):
    loop, fast = _train(False, **kwargs), _train(True, **kwargs)
    start = _model()
    for (k, a), (_, b), (_, s) in zip(loop.named_parameters(), fast.named_parameters(),
                                      start.named_parameters()):
        assert not torch.equal(a, s), k  # the step moved every parameter
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=k)


def test_shipped_schedule_builds_the_foreach_adan():
    cfg = Config.fromfile(str(SCHEDULE))
    assert cfg.optim_wrapper.optimizer.foreach is True
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        wrapper = build_optim_wrapper(copy.deepcopy(_model()), cfg.optim_wrapper)
    assert isinstance(wrapper.optimizer, Adan)
    assert all(g['foreach'] for g in wrapper.optimizer.param_groups)


def test_foreach_with_no_prox_is_wrong_upstream_and_refused():
    """mmpretrain's multi-tensor step with no_prox=True skips the update: refused at build."""
    loop, fast = _train(False, no_prox=True), _train(True, no_prox=True)
    # upstream bug: only the decay is applied (when this fails, mmpretrain fixed it)
    start = _model()
    decay = (1 - 1e-2 * 0.02) ** 5
    torch.testing.assert_close(fast[0].weight, start[0].weight * decay)
    assert not torch.allclose(loop[0].weight, fast[0].weight, atol=1e-3)
    bad = dict(optimizer=dict(type='Adan', lr=1e-3, no_prox=True))
    with pytest.raises(ValueError, match=r'optim_wrapper.optimizer: Adan with no_prox=True '
                       r'and foreach=True'):
        check_adan_foreach(bad)
    check_adan_foreach(dict(optimizer=dict(type='Adan', no_prox=True, foreach=False)))
    check_adan_foreach(Config.fromfile(str(SCHEDULE)).optim_wrapper)
