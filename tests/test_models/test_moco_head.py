"""CMIDMoCoHead: symmetric MoCo loss over filled queue slots, enqueue at the pointer."""
import math

import pytest
import torch
import torch.nn.functional as F

from cmid_mm.models import CMIDMoCoHead


def _unit(*shape, seed):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def _ce(q, k, negs, t):
    """-log softmax of the positive, written out per sample."""
    total = 0.
    for i in range(q.shape[0]):
        pos = math.exp(float(q[i] @ k[i]) / t)
        neg = sum(math.exp(float(q[i] @ n) / t) for n in negs)
        total += -math.log(pos / (pos + neg))
    return total / q.shape[0]


def test_empty_queue_gives_no_negatives_then_only_filled_slots_count():
    head = CMIDMoCoHead(feat_dim=8, queue_len=16, temperature=0.2)
    assert torch.equal(head.queue, torch.zeros(8, 16))  # starts empty
    q = [_unit(3, 8, seed=0), _unit(3, 8, seed=1)]
    k = [_unit(3, 8, seed=2), _unit(3, 8, seed=3)]
    # no negatives yet: each CE has one logit, the loss is exactly 0
    assert head.cross_view_loss(q, k).item() == 0.0
    assert torch.equal(head.queue, torch.zeros(8, 16))  # the loss changes no state
    head.commit(k)  # 6 keys in slots 0..5, 10 slots still empty
    negs = list(torch.cat(k))
    expected = (_ce(q[0], k[1], negs, 0.2) + _ce(q[1], k[0], negs, 0.2)) / 2
    assert head.cross_view_loss(q, k).item() == pytest.approx(expected, rel=1e-5)


def test_commit_writes_both_views_at_the_pointer_and_wraps():
    head = CMIDMoCoHead(feat_dim=4, queue_len=10)
    head.queue.fill_(7.)  # recognisable old content
    head.queue_ptr[0] = 7
    ka, kb = _unit(3, 4, seed=0) * 2, _unit(3, 4, seed=1)  # commit normalises the keys
    head.commit([ka, kb])
    keys = torch.cat([F.normalize(ka, dim=1), kb])  # view A then view B
    slots = [7, 8, 9, 0, 1, 2]
    assert torch.allclose(head.queue[:, slots].T, keys, atol=1e-6)
    assert torch.equal(head.queue[:, 3:7], torch.full((4, 4), 7.))  # untouched
    assert int(head.queue_ptr) == 3


def test_queue_length_errors():
    with pytest.raises(ValueError, match=r'model.global_head.queue_len must be >= 1.*got 0'):
        CMIDMoCoHead(feat_dim=4, queue_len=0)
    head = CMIDMoCoHead(feat_dim=4, queue_len=5)
    with pytest.raises(ValueError, match=r'queue_len=5 is smaller than the 6 keys written per '
                                         r'step \(2 views x batch x world size\)'):
        head.commit([_unit(3, 4, seed=0), _unit(3, 4, seed=1)])
    with pytest.raises(ValueError, match='feat_dim is 4 but the projector outputs 8'):
        head.cross_view_loss([_unit(2, 8, seed=0)] * 2, [_unit(2, 8, seed=1)] * 2)
