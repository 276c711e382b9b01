"""Weighted kNN, linear probe and the kNN monitor hook."""
import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.registry import HOOKS, MODELS

from cmid_mm.evaluation import knn_accuracy, knn_classify, linear_probe_accuracy
from tests.helpers import tiny_cmid_cfg


def _clusters(n_per_class=40, classes=4, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g) * 5
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    feats = centres[labels] + torch.randn(len(labels), dim, generator=g) * 0.3
    return feats, labels


def test_knn_separable_is_perfect_and_shuffled_is_chance():
    tf, tl = _clusters(seed=0)
    vf, vl = _clusters(seed=0)[0] + 0.01, _clusters(seed=0)[1]
    assert knn_accuracy(tf, tl, vf, vl, num_classes=4) == 100.0
    # shuffled training labels carry no information: averaged over shuffles,
    # accuracy sits at chance (25 %)
    g = torch.Generator().manual_seed(1)
    vf2, vl2 = _clusters(seed=2)
    accs = [knn_accuracy(tf, tl[torch.randperm(len(tl), generator=g)], vf2, vl2, num_classes=4)
            for _ in range(30)]
    assert 15.0 < sum(accs) / len(accs) < 35.0


def test_knn_votes_are_temperature_weighted():
    train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    # the query is nearest to class 1's single sample; with k=3 two class-0
    # samples outvote it only if their weights add up: exp(cos/T)
    q = torch.tensor([[0.3, 1.0]])
    assert knn_classify(train, labels, q, 2, k=3, temperature=0.07).item() == 1
    assert knn_classify(train, labels, q, 2, k=3, temperature=100.).item() == 0


def test_linear_probe_learns_separable_features():
    tf, tl = _clusters(seed=3)
    vf, vl = _clusters(seed=3)
    assert linear_probe_accuracy(tf, tl, vf, vl, 4, epochs=50) == 100.0


def test_knn_monitor_hook_on_real_tiles(s2_cls_root):
    MessageHub.get_current_instance().update_info('max_iters', 10)
    torch.manual_seed(0)
    model = MODELS.build(tiny_cmid_cfg())
    pipeline = [dict(type='LoadRSImage'), dict(type='PackInputs')]
    hook = HOOKS.build(dict(
        type='KNNMonitorHook', interval=1,
        train_dataset=dict(type='CustomDataset', data_root=str(s2_cls_root / 'train'),
                           pipeline=pipeline),
        val_dataset=dict(type='CustomDataset', data_root=str(s2_cls_root / 'val'),
                         pipeline=pipeline)))
    acc = hook.evaluate(model)
    assert 0.0 <= acc <= 100.0
    assert acc == pytest.approx(hook.evaluate(model))  # deterministic
