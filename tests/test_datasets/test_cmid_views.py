"""CMID's two views: location grids, block masks, photometric ops."""
from pathlib import Path

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


# --------------------------------------------------------------------------- config checks
def _views(**kwargs):
    return CMIDMultiView(view_pipelines=[[], []], **kwargs)


def _mask(**kwargs):
    cfg = dict(type='SimMIMMaskGenerator', input_size=128, mask_patch_size=32,
               model_patch_size=4, mask_ratio=0.6)
    return {**cfg, **kwargs}


@pytest.mark.parametrize('kwargs,message', [
    (dict(crop_ratio_range=(1.5, 2)), r'crop_ratio_range must be a \(min, max\) pair with min '
                                      r'<= max, both in \(0, 1\], got \(1.5, 2\)'),
    (dict(crop_ratio_range=(0., 1.)), r'crop_ratio_range .* \(0, 1\], got \(0.0, 1.0\)'),
    (dict(crop_ratio_range=(0.8, 0.3)), r'crop_ratio_range .* min <= max'),
    (dict(crop_ratio_range=0.5), r'crop_ratio_range .* got 0.5'),
    (dict(aspect_ratio_range=(0., 1.)), r'aspect_ratio_range .* \(0, inf\]'),
    (dict(flip_prob=2), r'flip_prob must be a number in \[0, 1\], got 2'),
    (dict(flip_prob=-0.1), r'flip_prob must be a number in \[0, 1\]'),
    (dict(interpolation='cubic'), r"interpolation must be one of .*'bicubic'.*got 'cubic'"),
    (dict(crop_size=100), r'crop_size must be a multiple of 32 .* got 100'),
    (dict(crop_size=0), r'crop_size must be a positive integer, got 0'),
    (dict(crop_size=128, mask_generator=_mask(mask_ratio=1.5)),
     r'mask_generator: mask_ratio must be a number in \(0, 1\), got 1.5'),
    (dict(crop_size=128, mask_generator=_mask(mask_ratio=-0.5)),
     r'mask_generator: mask_ratio must be a number in \(0, 1\), got -0.5'),
    (dict(crop_size=128, mask_generator=_mask(mask_ratio=1.0)), r'mask_ratio .* got 1.0'),
    (dict(crop_size=128, mask_generator=_mask(input_size=192)),
     r'input_size must equal crop_size \(128\) .* got 192'),
    (dict(crop_size=96, grid_size=3, mask_generator=_mask(input_size=96, mask_patch_size=64)),
     r'crop_size \(96\) must be a multiple of mask_patch_size, got mask_patch_size=64'),
    (dict(crop_size=128, mask_generator=_mask(model_patch_size=5)),
     r'mask_patch_size \(32\) must be a multiple of model_patch_size, got model_patch_size=5'),
])
def test_multiview_rejects_bad_config_naming_key_and_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _views(**kwargs)


def test_multiview_crop_100_in_the_shipped_config_is_a_clear_error():
    """crop 100 used to die in SimMIMMaskGenerator with a bare AssertionError."""
    from mmengine.config import Config
    from mmpretrain.registry import TRANSFORMS

    import cmid_mm  # noqa: F401
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[2] / 'configs/cmid/'
                              'cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'))
    views = next(t for t in cfg.train_pipeline if t['type'] == 'CMIDMultiView').to_dict()
    TRANSFORMS.build(views)  # as shipped: fine
    views.update(crop_size=100)
    views['mask_generator']['input_size'] = 100
    with pytest.raises(ValueError, match='CMIDMultiView: crop_size must be a multiple of 32'):
        TRANSFORMS.build(views)
    views.update(grid_size=3)  # grid given: the mask geometry is what is wrong
    with pytest.raises(ValueError, match=r'crop_size \(100\) must be a multiple of '
                                         r'mask_patch_size'):
        TRANSFORMS.build(views)


def test_multiview_accepts_edges_of_the_ranges():
    t = _views(crop_size=64, crop_ratio_range=(1.0, 1.0), flip_prob=0., grid_size=None,
               mask_generator=_mask(input_size=64, mask_ratio=0.01))
    np.random.seed(0)
    out = t({'img': _coordinate_image(64)})
    assert out['grid'].shape == (2, 4, 2) and out['mask'].shape == (2, 16, 16)
    # crop ratio 1 and no flip: the view is the whole image, so the grid is fixed
    np.testing.assert_allclose(out['grid'][0].reshape(2, 2, 2)[0, 0], [16., 16.])


@pytest.mark.parametrize('op,kwargs,message', [
    (RSColorJitter, dict(prob=1.5), r'RSColorJitter: prob must be a number in \[0, 1\], got 1.5'),
    (RSColorJitter, dict(brightness=-0.1), r'RSColorJitter: brightness .* \[0, 1\]'),
    (RSColorJitter, dict(contrast=2), r'RSColorJitter: contrast .* \[0, 1\], got 2'),
    (RSColorJitter, dict(saturation='high'), r"saturation .* got 'high'"),
    (RSColorJitter, dict(hue=0.7), r'RSColorJitter: hue must be a number in \[0, 0.5\]'),
    (RSColorJitter, dict(max_value=0), r'max_value must be a number in \(0, inf\]'),
    (RSGaussianBlur, dict(kernel_range=(4, 8)), r'kernel_range must be \(min, max\) odd'),
    (RSGaussianBlur, dict(kernel_range=(7, 3)), r'kernel_range .* min <= max'),
    (RSGaussianBlur, dict(kernel_range=(0, 3)), r'kernel_range .* \[1, inf\]'),
    (RSGaussianBlur, dict(sigma_range=(0, 2)), r'sigma_range .* \(0, inf\]'),
    (RSGaussianBlur, dict(prob=-1), r'RSGaussianBlur: prob must be'),
    (RSGaussNoise, dict(var_limit=(50, 10)), r'RSGaussNoise: var_limit .* min <= max'),
    (RSGaussNoise, dict(var_limit=(-1, 10)), r'var_limit .* \[0, inf\]'),
    (RSSolarize, dict(threshold=1.2), r'RSSolarize: threshold must be a number in \[0, 1\]'),
    (RSToGray, dict(prob=2), r'RSToGray: prob must be a number in \[0, 1\], got 2'),
])
def test_photometric_ops_reject_bad_config(op, kwargs, message):
    with pytest.raises(ValueError, match=message):
        op(**kwargs)


def test_photometric_bad_config_fails_when_the_view_pipeline_is_built():
    with pytest.raises(ValueError, match='RSSolarize: prob'):
        CMIDMultiView(view_pipelines=[[], [dict(type='RSSolarize', prob=1.2)]])
