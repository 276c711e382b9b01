"""CMIDBYOLHead: symmetric BYOL loss, no state."""
import pytest
import torch
import torch.nn.functional as F

from cmid_mm.models import CMIDBYOLHead


def test_byol_head_is_symmetric_2_minus_2cos():
    torch.manual_seed(0)
    head = CMIDBYOLHead(predictor=dict(type='NonLinearNeck', in_channels=8, hid_channels=16,
                                       out_channels=8, num_layers=2, with_avg_pool=False))
    head.eval()  # BN of the predictor with running statistics: same output twice
    q = [torch.randn(4, 8), torch.randn(4, 8)]
    k = [torch.randn(4, 8), torch.randn(4, 8)]
    p = [head.predictor([x])[0] for x in q]
    by_hand = [(2 - 2 * F.cosine_similarity(pa, kb, dim=1)).mean()
               for pa, kb in ((p[0], k[1]), (p[1], k[0]))]
    assert head.cross_view_loss(q, k).item() == pytest.approx(
        (by_hand[0] + by_hand[1]).item() / 2, rel=1e-5)
    before = {n: v.clone() for n, v in head.state_dict().items()}
    head.commit(k)
    assert all(torch.equal(before[n], v) for n, v in head.state_dict().items())
