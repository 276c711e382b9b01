"""ForeachCosineEMA: the multi-tensor teacher update equals CosineEMA's loop bit for bit."""
import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from torch import nn

import cmid_mm  # noqa: F401  (registers ForeachCosineEMA)
from cmid_mm.models.utils import ForeachCosineEMA, cosine_ema_momentum


def _student() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Flatten(), nn.LazyLinear(4)).eval()


def _run(ema_cls, steps: int = 6, **kwargs):
    MessageHub.get_current_instance().update_info('max_iters', 10)
    student = _student()
    student(torch.randn(2, 3, 6, 6))  # materialise the lazy layer
    ema = ema_cls(copy.deepcopy(student), momentum=0.3, end_momentum=0.05, **kwargs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        with torch.no_grad():  # the student moves, its BN statistics too
            for t in [*student.parameters(), student[1].running_mean]:
                t.add_(torch.randn(t.shape, generator=gen))
        ema.update_parameters(student)
    return ema, student


@pytest.mark.parametrize('interval', [1, 2])
def test_bit_identical_to_cosine_ema(interval):
    loop, student = _run(CosineEMA, interval=interval)
    fast, _ = _run(ForeachCosineEMA, interval=interval)
    assert fast.steps == loop.steps == 6
    for (k, a), (_, b) in zip(loop.module.state_dict().items(), fast.module.state_dict().items()):
        assert torch.equal(a, b), k
    # the teacher really averaged (not a copy of the student)
    assert not torch.equal(fast.module[0].weight, student[0].weight)
    # buffers follow the student (update_buffers=False)
    assert torch.equal(fast.module[1].running_mean, student[1].running_mean)


def test_update_buffers_and_loop_fallback():
    loop, _ = _run(CosineEMA, update_buffers=True)
    fast, _ = _run(ForeachCosineEMA, update_buffers=True)
    off, _ = _run(ForeachCosineEMA, foreach=False)
    ref, _ = _run(CosineEMA)
    for a, b in zip(loop.module.state_dict().values(), fast.module.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(ref.module.state_dict().values(), off.module.state_dict().values()):
        assert torch.equal(a, b)


def test_momentum_formula_and_one_update_by_hand():
    assert cosine_ema_momentum(0.004, 0.0, 0, 100) == pytest.approx(0.004)
    assert cosine_ema_momentum(0.004, 0.0, 50, 100) == pytest.approx(0.002)
    assert cosine_ema_momentum(0.004, 0.0, 100, 100) == pytest.approx(0.0, abs=1e-12)
    MessageHub.get_current_instance().update_info('max_iters', 4)
    student = nn.Linear(2, 1, bias=False)
    ema = ForeachCosineEMA(copy.deepcopy(student), momentum=0.5, end_momentum=0.)
    ema.update_parameters(student)  # step 0: copy
    t0 = ema.module.weight.detach().clone()
    with torch.no_grad():
        student.weight.add_(1.0)
    ema.update_parameters(student)  # step 1: m = 0.5 * (cos(pi / 4) + 1) / 2
    m = 0.5 * (0.5 ** 0.5 + 1) / 2
    assert torch.allclose(ema.module.weight, (1 - m) * t0 + m * student.weight, atol=1e-7)


def test_built_from_config_and_bad_option():
    MessageHub.get_current_instance().update_info('max_iters', 10)
    ema = MODELS.build(dict(type='ForeachCosineEMA', model=nn.Linear(2, 2), momentum=0.004))
    assert isinstance(ema, CosineEMA) and ema.foreach
    with pytest.raises(ValueError, match='model.teacher.foreach must be True or False'):
        ForeachCosineEMA(nn.Linear(2, 2), foreach='yes')


@pytest.mark.parametrize('max_iters', [10, 1520, 250000])
def test_host_momentum_equals_cosine_ema_on_its_long_tensor(max_iters):
    """CosineEMA takes ``cos`` of ``pi * steps / T`` with ``steps`` a long tensor (float32);
    the host formula rounds the same way, so the teachers stay bit-identical."""
    from math import cos, pi
    for k in [*range(0, 300), *range(max(max_iters - 300, 0), max_iters + 1)]:
        ref = 0.05 - (0.05 - 0.3) * (cos(pi * torch.tensor(k) / float(max_iters)) + 1) / 2
        assert cosine_ema_momentum(0.3, 0.05, k, max_iters) == ref, k


def test_a_loaded_update_count_is_read_again():
    """Resume: the host copy of ``steps`` follows a loaded state dict."""
    ema, student = _run(ForeachCosineEMA, steps=3)
    resumed = ForeachCosineEMA(copy.deepcopy(student), momentum=0.3, end_momentum=0.05)
    resumed.update_parameters(student)  # a fresh EMA has counted 1 update
    resumed.load_state_dict(ema.state_dict())
    assert resumed.host_steps() == 3
    for e in (ema, resumed):
        e.update_parameters(student)
    assert int(resumed.steps) == resumed.host_steps() == 4
    for a, b in zip(ema.module.state_dict().values(), resumed.module.state_dict().values()):
        assert torch.equal(a, b)
