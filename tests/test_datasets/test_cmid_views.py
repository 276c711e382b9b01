"""CMID's two views: location grids, block masks, photometric ops."""
import numpy as np
import pytest

from cmid_mm.datasets.transforms import CMIDMultiView, location_grid
from cmid_mm.datasets.transforms.photometric import (
    RSColorJitter,
    RSGaussianBlur,
    RSGaussNoise,
    RSSolarize,
    RSToGray,
)


def test_location_grid_known_crop():
    grid = location_grid(top=10, left=20, height=70, width=140, flip=False, grid_size=7)
    assert grid.shape == (7, 7, 2)
    assert grid[0, 0].tolist() == pytest.approx([15., 30.])  # (10 + 70/7*0.5, 20 + 140/7*0.5)
    assert grid[6, 6].tolist() == pytest.approx([75., 150.])
    assert grid[2, 3].tolist() == pytest.approx([10 + 10 * 2.5, 20 + 20 * 3.5])
    flipped = location_grid(10, 20, 70, 140, flip=True, grid_size=7)
    assert flipped[0, 0].tolist() == pytest.approx([15., 150.])  # columns mirrored
    assert np.array_equal(flipped, grid[:, ::-1])


def _coordinate_image(size=224):
    ys, xs = np.meshgrid(np.arange(size), np.arange(size), indexing='ij')
    return np.stack([ys, xs, np.zeros_like(ys)], -1).astype(np.float32)


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_multiview_grid_points_at_the_pixels_the_view_shows(seed):
    """Each grid centre must equal the original coordinate seen at that cell's centre."""
    np.random.seed(seed)
    t = CMIDMultiView(view_pipelines=[[], []], crop_size=224, interpolation='bilinear')
    out = t({'img': _coordinate_image()})
    assert out['grid'].shape == (2, 49, 2) and out['mask'].shape == (2, 56, 56)
    for v in range(2):
        view, grid = out['img'][v], out['grid'][v].reshape(7, 7, 2)
        for k in range(7):
            for col in range(7):
                c = 32 * k + 16, 32 * col + 16  # boundary between pixels c-1 and c
                seen = (view[c[0] - 1, c[1] - 1, :2] + view[c[0], c[1], :2]) / 2 + 0.5
                assert seen == pytest.approx(grid[k, col], abs=1.0)


def test_multiview_flip_happens_and_masks_are_blocky():
    np.random.seed(0)
    t = CMIDMultiView(view_pipelines=[[], []], crop_size=224, flip_prob=1.0)
    out = t({'img': _coordinate_image()})
    g = out['grid'][0].reshape(7, 7, 2)
    assert (np.diff(g[0, :, 1]) < 0).all()  # x decreases along columns when flipped
    for mask in out['mask']:
        # 7x7 blocks of 8x8 mask cells, ceil(49 * 0.6) = 30 blocks masked
        blocks = mask.reshape(7, 8, 7, 8).transpose(0, 2, 1, 3).reshape(49, 64)
        assert (blocks.min(1) == blocks.max(1)).all()
        assert blocks[:, 0].sum() == 30
        assert mask.mean() == pytest.approx(30 / 49)
    assert not np.array_equal(out['mask'][0], out['mask'][1])


def test_multiview_rejects_one_pipeline():
    with pytest.raises(ValueError, match='exactly 2'):
        CMIDMultiView(view_pipelines=[[]])


@pytest.mark.parametrize('dtype,bands', [(np.uint8, 3), (np.uint16, 13), (np.float32, 4)])
def test_photometric_ops_keep_dtype_shape_and_range(dtype, bands):
    rng = np.random.default_rng(0)
    white = {np.uint8: 255, np.uint16: 65535, np.float32: 1.0}[dtype]
    img = (rng.random((32, 32, bands)) * white).astype(dtype)
    np.random.seed(0)
    for op in (RSColorJitter(prob=1.), RSGaussianBlur(prob=1.), RSGaussNoise(prob=1.),
               RSSolarize(prob=1.), RSToGray(prob=1.)):
        out = op({'img': img.copy()})['img']
        assert out.dtype == img.dtype and out.shape == img.shape, op
        assert out.min() >= 0 and out.max() <= white


def test_to_gray_only_for_rgb_and_solarize_inverts_bright():
    img = np.array([[[10, 200, 30]]], dtype=np.uint8)
    gray = RSToGray(prob=1.)({'img': img})['img']
    assert gray.tolist() == [[[124, 124, 124]]]  # 0.299*10 + 0.587*200 + 0.114*30 = 123.81
    four = np.ones((2, 2, 4), np.uint8)
    assert np.array_equal(RSToGray(prob=1.)({'img': four})['img'], four)
    sol = RSSolarize(prob=1.)({'img': img})['img']
    assert sol.tolist() == [[[10, 55, 30]]]
