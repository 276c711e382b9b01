"""Colour-histogram baseline for scene classification (no learned features).

Each image becomes, per band, a normalised intensity histogram plus the band's
mean and standard deviation; these vectors are scored by the same kNN and
linear probe (:mod:`cmid_mm.evaluation.knn`) as the learned features, so a
table shows how much of a scene set colour alone already separates.
"""
from __future__ import annotations

import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader, Dataset


def color_histogram_features(images: torch.Tensor, bins: int = 16,
                             value_range: tuple[float, float] = (0., 255.)) -> torch.Tensor:
    """Per-band histograms + mean + std of a batch of images.

    Args:
        images: (N, C, H, W) images (uint8 or float) with values in
            ``value_range``; values outside are clipped into it.
        bins: Histogram bins per band, of equal width over ``value_range``
            (the last bin includes the upper bound).
        value_range: (low, high) of the pixel values.

    Returns:
        Tensor: (N, C * (bins + 2)) float32: for band c, ``bins`` entries
        (the fraction of the band's pixels in each bin, summing to 1), then
        its mean and its standard deviation (population, ``unbiased=False``),
        both rescaled to 0..1 by ``(v - low) / (high - low)`` and ``std / (high - low)``.
    """
    if images.dim() != 4:
        raise ValueError(f'images must be (N, C, H, W), got shape {tuple(images.shape)}')
    low, high = value_range
    if not high > low:
        raise ValueError(f'value_range must be (low, high) with high > low, got {value_range}')
    x = ((images.float().clamp(low, high) - low) / (high - low)).flatten(2)  # (N, C, HW) in 0..1
    idx = (x * bins).long().clamp_(max=bins - 1)  # bin of each pixel; 1.0 -> last bin
    hist = torch.zeros(*x.shape[:2], bins).scatter_add_(2, idx, torch.ones_like(x))
    hist /= x.shape[2]
    stats = torch.stack([x.mean(2), x.std(2, unbiased=False)], dim=2)  # (N, C, 2)
    return torch.cat([hist, stats], dim=2).flatten(1)


def extract_color_features(dataset: Dataset, bins: int = 16, batch_size: int = 256,
                           value_range: tuple[float, float] = (0., 255.)
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour features and labels of a labelled dataset (pipeline ending with ``PackInputs``).

    The images are taken as the pipeline packs them (before any model
    normalisation), with values in ``value_range`` (0..255 for 8-bit RGB;
    e.g. (0, 1) for reflectance).

    Returns:
        tuple[Tensor, Tensor]: (N, C * (bins + 2)) features and (N,) labels.
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=default_collate)
    feats, labels = [], []
    for batch in loader:
        feats.append(color_histogram_features(batch['inputs'], bins, value_range))
        labels.append(torch.cat([ds.gt_label for ds in batch['data_samples']]))
    return torch.cat(feats), torch.cat(labels)
