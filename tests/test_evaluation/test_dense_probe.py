"""Dense linear probe: hand-checked mIoU, and above-chance / at-chance on real cloud tiles."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from cmid_mm.evaluation.dense_probe import (
    dense_probe_scores,
    evaluate_dense,
    evaluate_dense_color,
    evaluate_dense_protocols,
    evaluate_dense_with_pixels,
    load_seg_split,
    segmentation_scores,
)


@pytest.fixture(scope='module')
def cloud_root():
    from cmid_mm.rsdata import build_cloud_segmentation
    return build_cloud_segmentation()


def test_segmentation_scores_hand_computed():
    label = torch.tensor([[[0, 0, 1], [1, 2, 255]]])
    pred = torch.tensor([[[0, 1, 1], [1, 1, 0]]])  # the ignored pixel is predicted 0
    s = segmentation_scores(pred, label, num_classes=4, ignore_index=255)
    # labelled pixels: label 0 0 1 1 2, pred 0 1 1 1 1
    # class 0: I=1, U=1+2-1=2 -> 50; class 1: I=2, U=4+2-2=4 -> 50; class 2: I=0, U=1 -> 0;
    # class 3: absent from labels and predictions -> NaN, not in the mean
    assert s['per_class_iou'][:3] == pytest.approx([50., 50., 0.])
    assert math.isnan(s['per_class_iou'][3])
    assert s['miou'] == pytest.approx(100 / 3)
    assert s['aacc'] == pytest.approx(60.)
    with pytest.raises(ValueError, match='shape'):
        segmentation_scores(pred[:, :1], label, 4)


def _majority_miou(train_labels, val_labels, ignore=255):
    """mIoU (%) of predicting the train majority class everywhere, by hand."""
    tl, vl = train_labels[train_labels != ignore], val_labels[val_labels != ignore]
    major = int(np.bincount(tl.numpy()).argmax())
    present = set(vl.unique().tolist()) | {major}
    return 100 * (vl == major).float().mean().item() / len(present)


def test_probe_pixels_above_chance_constant_at_chance(cloud_root):
    (xt, yt, classes), (xv, yv, _) = (load_seg_split(cloud_root, s) for s in ('train', 'val'))
    assert classes == ['clear', 'cloud'] and xt.dtype == torch.uint8
    assert xt.shape[1:] == (3, 64, 64) and yt.shape[1:] == (64, 64)
    xt, yt, xv, yv = xt[::3], yt[::3], xv[::3], yv[::3]  # 18 train, 9 val real tiles
    chance = _majority_miou(yt, yv)
    const = dense_probe_scores(torch.zeros(len(xt), 4, 8, 8), yt, torch.zeros(len(xv), 4, 8, 8),
                               yv, num_classes=2)
    assert const['miou'] == pytest.approx(chance, abs=1e-3)
    # the pixels themselves (bright = cloud): clearly informative
    pix = dense_probe_scores(xt.float(), yt, xv.float(), yv, num_classes=2)
    assert pix['miou'] > chance + 20, (pix, chance)
    # seeded and full-batch: the same numbers again
    assert dense_probe_scores(xt.float(), yt, xv.float(), yv, num_classes=2) == pix
    # the dense colour baseline is this probe on the pixels (scale-free: standardised)
    color = evaluate_dense_color(cloud_root, stride=3)
    assert color['miou'] == pytest.approx(pix['miou'], abs=1e-3)
    assert color['feature_shape'] == [3, 64, 64]


def test_probe_ignores_nodata_pixels():
    # tile 0: feature 0 = class 0 (left), feature 1 = class 1 (right); tile 1: no data whose
    # feature is 0 as well. Counted as any class but 0, it would outvote tile 0's left half.
    feats = torch.zeros(2, 1, 4, 4)
    feats[0, :, :, 2:] = 1.
    labels = torch.full((2, 4, 4), 255)
    labels[0, :, :2], labels[0, :, 2:] = 0, 1
    s = dense_probe_scores(feats, labels, feats[:1], labels[:1], num_classes=2)
    assert s['miou'] == pytest.approx(100.)


class PixelModel(nn.Module):
    """extract_feat returns the normalised input: the 'features' are the pixels."""

    def __init__(self):
        super().__init__()
        from mmpretrain.models import SelfSupDataPreprocessor
        self.data_preprocessor = SelfSupDataPreprocessor(mean=[0.] * 3, std=[255.] * 3)

    def extract_feat(self, x):
        return (x, )


def test_evaluate_dense_end_to_end_pixels(cloud_root):
    r = evaluate_dense(PixelModel(), cloud_root, size=32, stride=3)
    assert r['feature_shape'] == [3, 32, 32] and r['classes'] == ['clear', 'cloud']
    assert (r['train_tiles'], r['val_tiles']) == (18, 9)
    _, yt, _ = load_seg_split(cloud_root, 'train')
    _, yv, _ = load_seg_split(cloud_root, 'val')
    assert r['miou'] > _majority_miou(yt[::3], yv[::3]) + 20


def test_load_seg_split_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='img_dir/train'):
        load_seg_split(tmp_path, 'train')


def test_bad_labels_named():
    with pytest.raises(ValueError, match='0..1'):
        dense_probe_scores(torch.zeros(1, 1, 2, 2), torch.full((1, 2, 2), 3),
                           torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), 2)


def test_load_seg_split_under_another_default_scope(tmp_path):
    """A pretraining Runner leaves 'mmpretrain' as the default scope (as in ssl_compare, which
    evaluates in the same process); the mmseg dataset must still build."""
    from mmengine.registry import DefaultScope

    from cmid_mm.evaluation import load_seg_split
    from cmid_mm.rsdata import build_cloud_segmentation
    root = build_cloud_segmentation()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        imgs, labels, classes = load_seg_split(root, 'val')
    assert imgs.shape[0] == labels.shape[0] > 0 and len(classes) == 2


class ConstModel(PixelModel):
    """A backbone that sees nothing: a constant 4-channel map at 1/8 of the input."""

    def extract_feat(self, x):
        return (torch.zeros(x.shape[0], 4, x.shape[-2] // 8, x.shape[-1] // 8), )


def test_dense_probe_with_pixels_adds_the_backbone_to_the_colour_baseline(cloud_root):
    """Backbone map upsampled to the label grid + the pixel's bands: with a backbone that
    sees nothing it scores the colour baseline; the map's channels come first."""
    color = evaluate_dense_color(cloud_root, stride=3)
    const = evaluate_dense_with_pixels(ConstModel(), cloud_root, size=32, stride=3)
    assert const['feature_shape'] == [4 + 3, 64, 64]
    assert const['miou'] == pytest.approx(color['miou'], abs=2.)
    pix = evaluate_dense_with_pixels(PixelModel(), cloud_root, size=32, stride=3)
    assert pix['feature_shape'] == [3 + 3, 64, 64] and pix['train_tiles'] == 18
    assert pix['miou'] > const['miou'] - 2.


def test_dense_protocols_together_equal_each_alone_and_extract_once(cloud_root, monkeypatch):
    """eval_frozen runs the three protocols in one call: the same numbers as each protocol
    alone, from one extraction of the train and one of the val maps."""
    import cmid_mm.evaluation.dense_probe as dp
    alone = dict(dense=evaluate_dense(PixelModel(), cloud_root, size=32, stride=3, seed=1),
                 dense_color=evaluate_dense_color(cloud_root, stride=3, seed=1),
                 dense_pixels=evaluate_dense_with_pixels(PixelModel(), cloud_root, size=32,
                                                         stride=3, seed=1))
    calls = []
    real = dp.extract_dense_features
    monkeypatch.setattr(dp, 'extract_dense_features',
                        lambda model, x, *a, **k: calls.append(len(x)) or real(model, x, *a, **k))
    together = evaluate_dense_protocols(PixelModel(), cloud_root, size=32, stride=3, seed=1,
                                        color=True, pixels=True)
    assert together == alone
    assert calls == [18, 9]  # train once, val once
    only = evaluate_dense_protocols(PixelModel(), cloud_root, size=32, stride=3, dense=False,
                                    color=True)
    assert set(only) == {'dense_color'} and calls == [18, 9]  # no model pass for colour
    with pytest.raises(ValueError, match='need a model'):
        evaluate_dense_protocols(None, cloud_root, pixels=True)
