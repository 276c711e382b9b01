"""Nearest-location matching of two views."""
import pytest
import torch

from cmid_mm.models import position_match


def test_position_match_picks_true_nearest_neighbours():
    # query cells on a 3x3 grid; key cells are the same grid shifted by
    # (0.2, 0.1) and listed in a scrambled order, except cell 4 moved far away
    ys, xs = torch.meshgrid(torch.arange(3.), torch.arange(3.), indexing='ij')
    q_grid = torch.stack([ys, xs], -1).reshape(1, 9, 2) * 10
    perm = torch.tensor([5, 2, 7, 0, 8, 1, 4, 6, 3])
    k_grid = (q_grid[0, perm] + torch.tensor([2., 1.])).unsqueeze(0)
    k_grid[0, (perm == 4).nonzero()[0, 0]] = torch.tensor([100., 100.])
    q_feats = torch.arange(9.).reshape(1, 9, 1)          # feature = query index
    k_feats = perm.float().reshape(1, 9, 1)              # feature = original cell index
    q, k = position_match(q_grid, k_grid, q_feats, k_feats, num_matches=8)
    # query 4 has no key near it (its twin moved away) and is dropped; the
    # others keep position order and meet the key of their own cell
    assert q.flatten().tolist() == [0, 1, 2, 3, 5, 6, 7, 8]
    assert k.flatten().tolist() == [0, 1, 2, 3, 5, 6, 7, 8]


def test_position_match_against_brute_force():
    g = torch.Generator().manual_seed(0)
    B, L, C, K = 3, 16, 5, 6
    qg, kg = torch.rand(B, L, 2, generator=g) * 50, torch.rand(B, L, 2, generator=g) * 50
    qf, kf = torch.randn(B, L, C, generator=g), torch.randn(B, L, C, generator=g)
    q, k = position_match(qg, kg, qf, kf, K)
    assert q.shape == k.shape == (B, K, C)
    for b in range(B):
        pairs = []
        for i in range(L):
            d = [((qg[b, i] - kg[b, j]) ** 2).sum().sqrt().item() for j in range(L)]
            j = min(range(L), key=d.__getitem__)
            pairs.append((d[j], i, j))
        kept = sorted(sorted(pairs)[:K], key=lambda p: p[1])
        assert torch.equal(q[b], qf[b, [p[1] for p in kept]])
        assert torch.equal(k[b], kf[b, [p[2] for p in kept]])


def test_position_match_errors():
    x = torch.zeros(1, 4, 2)
    with pytest.raises(ValueError, match='num_matches'):
        position_match(x, x, torch.zeros(1, 4, 3), torch.zeros(1, 4, 3), 5)
    with pytest.raises(ValueError, match='grids'):
        position_match(torch.zeros(1, 9, 2), x, torch.zeros(1, 4, 3), torch.zeros(1, 4, 3), 2)
