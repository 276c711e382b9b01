"""Colour-histogram baseline: the features are what the docstring says."""
import numpy as np
import pytest
import torch
from PIL import Image

from cmid_mm.evaluation.color_baseline import color_histogram_features, extract_color_features


def test_hand_computed_two_bands():
    # band 0: 0, 64, 128, 255; band 1: all 200; 4 bins over 0..255 (width 63.75)
    img = torch.tensor([[[[0, 64], [128, 255]], [[200, 200], [200, 200]]]], dtype=torch.uint8)
    f = color_histogram_features(img, bins=4)
    assert f.shape == (1, 2 * (4 + 2))
    b0, b1 = f[0, :6], f[0, 6:]
    assert b0[:4].tolist() == pytest.approx([0.25, 0.25, 0.25, 0.25])  # 0 | 64 | 128 | 255
    v = np.array([0, 64, 128, 255]) / 255
    assert b0[4:].tolist() == pytest.approx([v.mean(), v.std()], rel=1e-5)
    assert b1[:4].tolist() == [0, 0, 0, 1]  # 200 / 63.75 = 3.1 -> last bin
    assert b1[4:].tolist() == pytest.approx([200 / 255, 0.], abs=1e-6)


def test_real_tiles_match_numpy_histogram(s2_cls_root):
    files = sorted((s2_cls_root / 'val' / 'bare_built').glob('*.png'))[:4]
    arr = np.stack([np.asarray(Image.open(f).convert('RGB')) for f in files])  # (N, H, W, 3)
    f = color_histogram_features(torch.from_numpy(arr).permute(0, 3, 1, 2), bins=16)
    for n in range(len(files)):
        for c in range(3):
            band = arr[n, :, :, c].astype(np.float64)
            hist = np.histogram(band, bins=16, range=(0, 255))[0] / band.size
            got = f[n, c * 18:(c + 1) * 18].numpy()
            np.testing.assert_allclose(got[:16], hist, atol=1e-6)
            np.testing.assert_allclose(got[16:], [band.mean() / 255, band.std() / 255],
                                       rtol=1e-5)


def test_extract_from_dataset_keeps_labels(s2_cls_root):
    from mmpretrain.registry import DATASETS
    from torch.utils.data import Subset
    ds = DATASETS.build(dict(type='CustomDataset', data_root=str(s2_cls_root / 'val'),
                             pipeline=[dict(type='LoadRSImage'), dict(type='PackInputs')]))
    sub = Subset(ds, range(0, len(ds), 20))
    feats, labels = extract_color_features(sub, bins=8, batch_size=4)
    assert feats.shape == (len(sub), 3 * 10)
    assert labels.tolist() == [ds.get_data_info(i)['gt_label'] for i in range(0, len(ds), 20)]
    first = color_histogram_features(ds[0]['inputs'][None], bins=8)
    torch.testing.assert_close(feats[:1], first)


def test_bad_input():
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        color_histogram_features(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match='high > low'):
        color_histogram_features(torch.zeros(1, 3, 4, 4), value_range=(1., 1.))
