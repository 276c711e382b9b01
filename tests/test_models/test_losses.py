"""CMID losses against values computed by hand."""
import math

import numpy as np
import pytest
import torch

from cmid_mm.models import CMIDLocalLoss, FocalFrequencyLoss, FocalL1Loss


def _focal_l1_by_hand(p: float, t: float, alpha=0.2, gamma=1.0) -> float:
    l1 = abs(p - t)
    return l1 * (2. / (1. + math.exp(-alpha * l1)) - 1.) ** gamma


def test_focal_l1_matches_hand_values():
    pred = torch.tensor([0.0, 1.0, 3.0, -2.0])
    target = torch.tensor([0.5, 1.0, 0.0, 2.0])
    expected = [_focal_l1_by_hand(p, t) for p, t in zip(pred.tolist(), target.tolist())]
    loss = FocalL1Loss(reduction='none')(pred, target)
    assert torch.allclose(loss, torch.tensor(expected), atol=1e-6)
    # |3 - 0| = 3: 3 * (2 * sigmoid(0.6) - 1) = 3 * 0.291313 = 0.873939
    assert loss[2].item() == pytest.approx(0.873939, abs=1e-5)
    assert FocalL1Loss()(pred, target).item() == pytest.approx(sum(expected) / 4, abs=1e-6)
    assert FocalL1Loss(reduction='sum', loss_weight=2.)(pred, target).item() == pytest.approx(
        2 * sum(expected), abs=1e-5)
    w = torch.tensor([1., 0., 1., 0.])
    assert FocalL1Loss(reduction='sum')(pred, target, w).item() == pytest.approx(
        expected[0] + expected[2], abs=1e-6)


def test_focal_l1_gamma_tanh_residual():
    pred, target = torch.tensor([2.0]), torch.tensor([0.0])
    assert FocalL1Loss(gamma=2.0, reduction='sum')(pred, target).item() == pytest.approx(
        _focal_l1_by_hand(2., 0., gamma=2.), abs=1e-6)
    assert FocalL1Loss(activate='tanh', reduction='sum')(pred, target).item() == pytest.approx(
        2 * math.tanh(0.4), abs=1e-6)
    assert FocalL1Loss(residual=True, reduction='sum')(pred, target).item() == pytest.approx(
        _focal_l1_by_hand(2., 0.) + 2., abs=1e-6)
    with pytest.raises(ValueError, match='activate'):
        FocalL1Loss(activate='relu')


def test_focal_frequency_loss_hand_values():
    # 1x1x1x2 images: FFT_ortho([1, 1]) = [sqrt2, 0], FFT_ortho([0, 0]) = [0, 0]
    # |dF|^2 = [2, 0]; w = [sqrt2, 0] / sqrt2 = [1, 0]; loss = mean([2, 0]) = 1
    pred = torch.tensor([[[[1., 1.]]]])
    target = torch.zeros(1, 1, 1, 2)
    assert FocalFrequencyLoss()(pred, target).item() == pytest.approx(1.0, abs=1e-6)
    # FFT_ortho([1, 0]) = [1/sqrt2, 1/sqrt2]: equal weights 1, |dF|^2 = 0.5 each
    pred = torch.tensor([[[[1., 0.]]]])
    assert FocalFrequencyLoss(log_matrix=True)(pred, target).item() == pytest.approx(0.5, abs=1e-6)
    assert FocalFrequencyLoss(loss_weight=3.)(pred, target).item() == pytest.approx(1.5, abs=1e-6)


def _ffl_numpy(pred, target, alpha, ave, log, batch):
    fp = np.fft.fft2(pred, norm='ortho')
    ft = np.fft.fft2(target, norm='ortho')
    if ave:
        fp, ft = fp.mean(0, keepdims=True), ft.mean(0, keepdims=True)
    d = np.abs(fp - ft) ** 2
    w = np.sqrt(d) ** alpha
    if log:
        w = np.log(w + 1)
    w = w / (w.max() if batch else w.max(axis=(-2, -1), keepdims=True))
    w = np.clip(np.nan_to_num(w), 0, 1)
    return (w * d).mean()


@pytest.mark.parametrize('ave,log,batch', [(True, True, True), (False, False, False),
                                           (False, True, False), (True, False, True)])
def test_focal_frequency_loss_matches_numpy_reference(ave, log, batch):
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(2, 3, 8, 8)), rng.normal(size=(2, 3, 8, 8))
    loss = FocalFrequencyLoss(ave_spectrum=ave, log_matrix=log, batch_matrix=batch)(
        torch.from_numpy(pred).float(), torch.from_numpy(target).float())
    assert loss.item() == pytest.approx(_ffl_numpy(pred, target, 1., ave, log, batch), rel=1e-4)


def test_focal_frequency_loss_weight_is_detached_and_fp32():
    pred = torch.randn(2, 3, 8, 8, requires_grad=True)
    target = torch.randn(2, 3, 8, 8)
    loss = FocalFrequencyLoss(ave_spectrum=True, log_matrix=True, batch_matrix=True)(
        pred.bfloat16(), target.bfloat16())
    assert loss.dtype == torch.float32
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_local_loss_hand_value_and_center_update():
    loss_fn = CMIDLocalLoss(out_dim=2, student_temp=0.1, teacher_temp=0.07,
                            warmup_teacher_temp=0.04, warmup_teacher_temp_epochs=50,
                            center_momentum=0.9)
    student = torch.tensor([[[0.3], [0.0]]])  # (B=1, D=2, K=1)
    teacher = torch.tensor([[[0.1], [0.0]]])
    loss = loss_fn(student, teacher).item()
    # teacher softmax([0.1, 0] / 0.04) = softmax([2.5, 0]); student log_softmax([3, 0])
    p0 = 1 / (1 + math.exp(-2.5))
    ls0, ls1 = -math.log(1 + math.exp(-3.)), -3. - math.log(1 + math.exp(-3.))
    assert loss == pytest.approx(-(p0 * ls0 + (1 - p0) * ls1), rel=1e-6)
    # the forward pass changes no state; next_center is 0.9 * 0 + 0.1 * mean of the teacher
    assert torch.equal(loss_fn.center, torch.zeros(1, 2, 1))
    c1 = loss_fn.next_center(teacher)
    assert torch.allclose(c1.flatten(), torch.tensor([0.01, 0.0]))
    assert torch.equal(loss_fn.center, torch.zeros(1, 2, 1))
    c2 = loss_fn.next_center(torch.tensor([[[3.0], [1.0]]]), c1)
    assert torch.allclose(c2.flatten(), torch.tensor([0.9 * 0.01 + 0.3, 0.1]))
    loss_fn.set_center(c2)
    assert torch.equal(loss_fn.center, c2)


def test_local_loss_subtracts_a_nonzero_center():
    loss_fn = CMIDLocalLoss(out_dim=2, warmup_teacher_temp=0.04, warmup_teacher_temp_epochs=50)
    loss_fn.set_center(torch.tensor([0.5, -0.2]).view(1, 2, 1))
    student = torch.tensor([[[0.3], [0.0]], [[-0.2], [0.4]]])  # (B=2, D=2, K=1)
    teacher = torch.tensor([[[0.1], [0.0]], [[0.0], [0.3]]])

    def hand(s, t):  # -sum softmax((t - c) / 0.04) * log_softmax(s / 0.1), written out
        a, b = (t[0] - 0.5) / 0.04, (t[1] + 0.2) / 0.04
        p0 = math.exp(a) / (math.exp(a) + math.exp(b))
        z = math.log(math.exp(s[0] / 0.1) + math.exp(s[1] / 0.1))
        return -(p0 * (s[0] / 0.1 - z) + (1 - p0) * (s[1] / 0.1 - z))
    expected = (hand((0.3, 0.0), (0.1, 0.0)) + hand((-0.2, 0.4), (0.0, 0.3))) / 2
    assert loss_fn(student, teacher).item() == pytest.approx(expected, rel=1e-6)
    # an explicit center replaces the stored one
    zero = torch.zeros(1, 2, 1)
    assert loss_fn(student, teacher, zero).item() != pytest.approx(expected, rel=1e-3)


def test_local_loss_uniform_student_gives_log_d():
    loss_fn = CMIDLocalLoss(out_dim=8)
    loss = loss_fn(torch.zeros(3, 8, 5), torch.randn(3, 8, 5))
    assert loss.item() == pytest.approx(math.log(8), rel=1e-6)


def test_local_loss_teacher_temperature_schedule():
    loss_fn = CMIDLocalLoss(out_dim=4)
    temps = {}
    for epoch in (0, 1, 25, 49, 50, 300):
        loss_fn.set_epoch(epoch)
        temps[epoch] = loss_fn.current_teacher_temp
    assert temps[0] == pytest.approx(0.04)
    assert temps[1] == pytest.approx(0.04 + 0.03 / 49)
    assert temps[49] == pytest.approx(0.07)
    assert temps[50] == temps[300] == pytest.approx(0.07)


def test_local_loss_rejects_wrong_shapes():
    with pytest.raises(ValueError, match='CMIDLocalLoss expects'):
        CMIDLocalLoss(out_dim=4)(torch.zeros(2, 3, 5), torch.zeros(2, 3, 5))


def test_local_loss_iteration_warmup():
    loss_fn = CMIDLocalLoss(out_dim=4, warmup_teacher_temp=0.04, teacher_temp=0.07,
                            warmup_teacher_temp_epochs=None, warmup_teacher_temp_iters=40)
    temps = {}
    for it in (0, 10, 39, 40, 500):
        loss_fn.set_iter(it)
        loss_fn.set_epoch(100)  # ignored by an iteration warm-up
        temps[it] = loss_fn.current_teacher_temp
    assert temps[0] == pytest.approx(0.04)
    assert temps[10] == pytest.approx(0.04 + 0.03 * 10 / 40)
    assert temps[39] == pytest.approx(0.04 + 0.03 * 39 / 40)
    assert temps[40] == temps[500] == pytest.approx(0.07)


@pytest.mark.parametrize('kwargs,match', [
    (dict(warmup_teacher_temp_iters=10), 'exactly one of warmup_teacher_temp_epochs'),
    (dict(warmup_teacher_temp_epochs=None), 'exactly one of warmup_teacher_temp_epochs'),
    (dict(center_momentum=1.0), r'center_momentum must be in \[0.0, 1.0\), got 1.0'),
    (dict(teacher_temp=0.), r'teacher_temp must be in \(0.0, inf\], got 0.0'),
    (dict(student_temp=-0.1), 'student_temp'),
    (dict(warmup_teacher_temp_epochs=-1), 'warm-up length must be >= 0'),
])
def test_local_loss_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CMIDLocalLoss(out_dim=4, **kwargs)
