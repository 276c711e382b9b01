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
    # center: 0.9 * 0 + 0.1 * mean over batch and positions of the teacher
    assert torch.allclose(loss_fn.center.flatten(), torch.tensor([0.01, 0.0]))
    loss_fn(student, torch.tensor([[[3.0], [1.0]]]))
    assert torch.allclose(loss_fn.center.flatten(), torch.tensor([0.9 * 0.01 + 0.3, 0.1]))


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
