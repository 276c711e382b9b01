"""DualInputSegDataPreProcessor: per-date colour swap, 6-value normalisation, padding."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

MEAN = [10., 20., 30., 40., 50., 60.]
STD = [1., 2., 3., 4., 5., 6.]


def _batch(h=30, w=20):
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (6, h, w), generator=gen, dtype=torch.uint8)
              for _ in range(2)]
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.ones(1, h, w, dtype=torch.int64))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_swap_normalise_and_pad():
    pre = MODELS.build(dict(type='DualInputSegDataPreProcessor', mean=MEAN, std=STD,
                            bgr_to_rgb=True, size_divisor=32, seg_pad_val=255))
    data = _batch()
    raw = data['inputs'][0].float()
    out = pre(data, training=True)
    x, samples = out['inputs'], out['data_samples']
    assert tuple(x.shape) == (2, 6, 32, 32)  # padded to a multiple of 32
    order = [2, 1, 0, 5, 4, 3]  # each date's BGR -> RGB
    mean = torch.tensor(MEAN).view(6, 1, 1)
    std = torch.tensor(STD).view(6, 1, 1)
    torch.testing.assert_close(x[0, :, :30, :20], (raw[order] - mean) / std)
    assert (x[0, :, 30:, :] == 0).all()  # pad_val after normalisation
    gt = samples[0].gt_sem_seg.data
    assert gt.shape == (1, 32, 32) and (gt[:, 30:, :] == 255).all()


def test_test_mode_without_swap():
    pre = MODELS.build(dict(type='DualInputSegDataPreProcessor', mean=MEAN, std=STD,
                            size_divisor=32, test_cfg=dict(size_divisor=32)))
    data = _batch(32, 32)
    raw = data['inputs'][1].float()
    out = pre(data, training=False)
    torch.testing.assert_close(out['inputs'][1],
                               (raw - torch.tensor(MEAN).view(6, 1, 1))
                               / torch.tensor(STD).view(6, 1, 1))


def test_mean_of_one_image_only_is_rejected():
    pre = MODELS.build(dict(type='DualInputSegDataPreProcessor', mean=MEAN[:3], std=STD[:3],
                            size_divisor=32))
    with pytest.raises(ValueError, match=r'per-image statistics twice'):
        pre(_batch(), training=True)
    with pytest.raises(ValueError, match='both'):
        MODELS.build(dict(type='DualInputSegDataPreProcessor', mean=MEAN))
