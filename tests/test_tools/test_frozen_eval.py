"""cmid_mm.evaluation.frozen: the one frozen-feature protocol of make demo and
tools/benchmark/ssl_compare.py (held-out s2_cls tiles, pooled features, kNN k=20
T=0.07 and a seeded linear probe), on real Sentinel-2 tiles and a random ResNet-18."""
from __future__ import annotations

import math

import pytest
import torch

from cmid_mm.evaluation import (
    build_eval_sets,
    extract_pooled_features,
    frozen_feature_scores,
    knn_accuracy,
    linear_probe_accuracy,
)


@pytest.fixture(scope='module')
def sets(s2_cls_root):
    return build_eval_sets(s2_cls_root, size=32, stride=8)


@pytest.fixture(scope='module')
def model():
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401  (LoadRSImage)
    torch.manual_seed(0)
    net = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[86.18, 91.93, 85.37],
                               std=[34.65, 34.48, 35.88], to_rgb=False)))
    net.init_weights()
    return net


def test_eval_sets(s2_cls_root, sets):
    splits, classes = sets
    assert classes == sorted(p.name for p in (s2_cls_root / 'train').iterdir() if p.is_dir())
    for name, ds in splits.items():
        full = len(list((s2_cls_root / name).glob('*/*')))
        assert len(ds) == math.ceil(full / 8), name  # every 8th tile
        item = ds[0]
        assert item['inputs'].shape == (3, 32, 32)
        assert item['data_samples'].gt_label.item() in range(len(classes))


def test_scores_follow_the_protocol(sets, model):
    splits, classes = sets
    n = len(classes)
    (tf, tl), (vf, vl) = (extract_pooled_features(model, splits[s]) for s in ('train', 'val'))
    for seed in (0, 3):
        scores = frozen_feature_scores(model, splits, n, seed=seed)
        assert scores == dict(
            knn_top1=knn_accuracy(tf, tl, vf, vl, n, k=20, temperature=0.07),
            linear_top1=linear_probe_accuracy(tf, tl, vf, vl, n, seed=seed))
