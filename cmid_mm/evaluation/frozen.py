"""The frozen-feature protocol of ``make demo`` and the SSL benchmark.

Held-out labelled tiles (``train``/``val`` class folders), resized to one size;
global-average-pooled last-stage features of a frozen model; weighted kNN
(k=20, T=0.07) and a linear probe on them. One function each, so that the demo
and every benchmarked method are scored by the same code.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from .features import extract_pooled_features
from .knn import knn_accuracy, linear_probe_accuracy

SPLITS = ('train', 'val')


def image_loading(cfg) -> dict:
    """``LoadRSImage`` arguments to read evaluation images for a model of ``cfg``.

    ``{}`` (8-bit RGB, the default) unless the first step of the config's
    ``train_pipeline`` is a ``LoadRSImage`` that reads another band count: then
    its ``num_bands``, ``bands``, ``uint16_scale``, ``to_float32`` and no-data
    arguments, so that evaluation images have the bands and the scale the
    model's ``data_preprocessor`` statistics were computed on (e.g. 13-band
    reflectance for ``cmid_resnet18_1xb32-adan-20e_s2-13band-128.py``).

    Args:
        cfg: An mmengine ``Config`` (or dict) of a pretraining config.

    Returns:
        dict: Keyword arguments of ``LoadRSImage``.
    """
    pipeline = cfg.get('train_pipeline') or []
    first = dict(pipeline[0]) if pipeline else {}
    if first.get('type') != 'LoadRSImage' or first.get('num_bands') in (None, 3):
        return {}
    keys = ('num_bands', 'bands', 'uint16_scale', 'to_float32', 'nodata', 'nodata_value')
    return {k: first[k] for k in keys if k in first}


def build_eval_sets(cls_root: str | Path, size: int, stride: int = 1,
                    load_cfg: dict | None = None) -> tuple[dict, list[str]]:
    """Train/val splits of a class-folder dataset, read with ``LoadRSImage`` and
    resized (bicubic) to ``size`` x ``size``.

    Args:
        cls_root: Folder with ``train/<class>/*`` and ``val/<class>/*``.
        size: Side of the resized images (pixels).
        stride: Keep every ``stride``-th image of each split (1: all).
        load_cfg: ``LoadRSImage`` arguments (:func:`image_loading`; default:
            none, 8-bit RGB).

    Returns:
        The datasets by split (each item packs a (C, size, size) image and its
        label) and the class names.
    """
    from mmpretrain.registry import DATASETS
    from torch.utils.data import Subset
    pipeline = [dict(type='LoadRSImage', **(load_cfg or {})),
                dict(type='Resize', scale=(size, size), interpolation='bicubic'),
                dict(type='PackInputs')]
    sets, classes = {}, None
    for split in SPLITS:
        ds = DATASETS.build(dict(_scope_='mmpretrain', type='CustomDataset',
                                 data_root=str(Path(cls_root) / split), pipeline=pipeline))
        if classes is None:
            classes = list(ds.metainfo['classes'])
        sets[split] = ds if stride == 1 else Subset(ds, range(0, len(ds), stride))
    return sets, classes


def frozen_feature_scores(model: nn.Module, sets: dict, num_classes: int, seed: int = 0,
                          k: int = 20, temperature: float = 0.07) -> dict[str, float]:
    """kNN and linear-probe top-1 (%) of a frozen model's pooled features.

    Args:
        model: An mmpretrain model with ``data_preprocessor`` and ``extract_feat``.
        sets: ``{'train': dataset, 'val': dataset}`` (:func:`build_eval_sets`).
        num_classes: Number of classes.
        seed: Seed of the linear probe's initialisation.
        k, temperature: kNN neighbours and vote temperature.

    Returns:
        ``{'knn_top1': float, 'linear_top1': float}``.
    """
    (tf, tl), (vf, vl) = (extract_pooled_features(model, sets[s]) for s in SPLITS)
    return dict(knn_top1=knn_accuracy(tf, tl, vf, vl, num_classes, k=k, temperature=temperature),
                linear_top1=linear_probe_accuracy(tf, tl, vf, vl, num_classes, seed=seed))
