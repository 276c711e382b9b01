"""CMIDMIMHead: masked focal L1 + FFL on the 0.001-blended prediction."""
import pytest
import torch

from cmid_mm.models import CMIDMIMHead, FocalFrequencyLoss, FocalL1Loss
from cmid_mm.models.heads.mim_head import upsample_mask


def test_upsample_mask():
    m = torch.tensor([[[1, 0], [0, 1]]])
    up = upsample_mask(m, (4, 4))
    assert up.shape == (1, 1, 4, 4)
    assert up[0, 0].tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]
    with pytest.raises(ValueError, match='does not divide'):
        upsample_mask(m, (5, 4))


def test_mim_head_equals_hand_composition():
    torch.manual_seed(0)
    pred, target = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    mask = torch.zeros(2, 2, 2)
    mask[0, 0, 0] = mask[1, 1, 1] = mask[1, 0, 1] = 1
    head = CMIDMIMHead()
    pix = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1)
    l1 = FocalL1Loss(reduction='none')(pred, target)
    rec = (l1 * pix).sum() / (pix.sum() + 1e-5) / 3
    # 3 masked blocks of 16 px: the mask counts once per pixel, channels summed
    assert pix.sum() == 48
    m_f = pix + (1 - pix) * 0.001
    mixed = pred * m_f + (0.5 * pred + 0.5 * target) * (1 - m_f)
    ffl = FocalFrequencyLoss(ave_spectrum=True, log_matrix=True, batch_matrix=True)(mixed, target)
    assert head.loss(pred, target, mask).item() == pytest.approx((rec + ffl).item(), rel=1e-6)
    no_fft = CMIDMIMHead(fft_loss=None)
    assert no_fft.loss(pred, target, mask).item() == pytest.approx(rec.item(), rel=1e-6)


def test_mim_head_gradient_only_from_masked_pixels_without_fft():
    pred = torch.randn(1, 3, 4, 4, requires_grad=True)
    mask = torch.tensor([[[1, 0], [0, 0]]])
    CMIDMIMHead(fft_loss=None).loss(pred, torch.zeros(1, 3, 4, 4), mask).backward()
    assert pred.grad[..., :2, :2].abs().sum() > 0
    assert pred.grad[..., 2:, :].abs().sum() == 0 and pred.grad[..., :, 2:].abs().sum() == 0
