"""Band-count mismatches between data, config and model are refused at load / build
time with the file, the expected and the found count - not a conv shape error.

Data: real 13-band Sentinel-2 GeoTIFF tiles and real RGB PNG tiles
(``cmid_mm.rsdata.build_pretrain_tiles``)."""
from __future__ import annotations

import pytest
import torch
from mmengine.structures import BaseDataElement

from cmid_mm.datasets.transforms import BadImageError
from cmid_mm.datasets.transforms.loading import LoadRSImage
from cmid_mm.models.data_preprocessor import (
    BandCountError,
    CMIDDataPreprocessor,
    check_backbone_bands,
)


@pytest.fixture(scope='module')
def tiles():
    from cmid_mm.rsdata import build_pretrain_tiles
    root = build_pretrain_tiles()
    return sorted((root / 'msi').glob('*.tif'))[0], sorted((root / 'rgb').glob('*.png'))[0]


def test_loader_accepts_the_expected_band_count(tiles):
    msi, rgb = tiles
    assert LoadRSImage(num_bands=13)(dict(img_path=str(msi)))['img'].shape == (128, 128, 13)
    assert LoadRSImage(num_bands=3, bands=[4, 3, 2])(
        dict(img_path=str(msi)))['img'].shape == (128, 128, 3)
    assert LoadRSImage(num_bands=3)(dict(img_path=str(rgb)))['img'].shape == (128, 128, 3)


def test_loader_names_file_expected_and_found(tiles):
    msi, rgb = tiles
    with pytest.raises(BadImageError) as err:
        LoadRSImage(num_bands=13)(dict(img_path=str(rgb)))
    assert str(rgb) in str(err.value) and 'expected 13 band(s)' in str(err.value)
    assert 'found 3' in str(err.value)
    with pytest.raises(BadImageError) as err:
        LoadRSImage(num_bands=3)(dict(img_path=str(msi)))
    assert str(msi) in str(err.value) and 'expected 3' in str(err.value)
    assert 'found 13' in str(err.value)


def test_loader_mismatch_is_skippable_like_any_bad_image(tiles):
    _, rgb = tiles
    assert LoadRSImage(num_bands=13, skip_bad_images=True)(dict(img_path=str(rgb))) is None


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_bands=3, bands=[4, 3]), r'num_bands=3 but bands=\[4, 3\] selects 2'),
    (dict(num_bands=0), 'positive integer'),
    (dict(num_bands=2.5), 'positive integer'),
])
def test_loader_refuses_inconsistent_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LoadRSImage(**kwargs)


def _batch(files, bands: int) -> dict:
    samples = [BaseDataElement(metainfo=dict(img_path=str(f))) for f in files]
    return dict(inputs=[torch.zeros(len(files), bands, 8, 8)] * 2, data_samples=samples)


def test_preprocessor_takes_n_band_statistics():
    pre = CMIDDataPreprocessor(mean=[float(i) for i in range(13)], std=[2.] * 13)
    x = torch.arange(13.).view(1, 13, 1, 1).expand(2, 13, 4, 4)
    out = pre(dict(inputs=[x, x], data_samples=None))['inputs']
    assert out[0].shape == (2, 13, 4, 4) and torch.all(out[0] == 0)  # (i - i) / 2
    assert pre.num_bands == 13


def test_preprocessor_names_the_images_of_a_batch_with_other_bands(tiles):
    _, rgb = tiles
    pre = CMIDDataPreprocessor(mean=[0.] * 13, std=[1.] * 13)
    with pytest.raises(BandCountError) as err:
        pre(_batch([rgb], 3))
    msg = str(err.value)
    assert 'the batch has 3 band(s)' in msg and 'mean/std have 13' in msg and str(rgb) in msg
    pre3 = CMIDDataPreprocessor(mean=[0.] * 3, std=[1.] * 3)
    with pytest.raises(BandCountError, match='the batch has 13 band'):
        pre3(_batch([rgb], 13))


def test_preprocessor_refuses_unequal_mean_and_std():
    with pytest.raises(BandCountError, match='mean has 13 values but std has 3'):
        CMIDDataPreprocessor(mean=[0.] * 13, std=[1.] * 3)


def test_config_statistics_vs_backbone_in_channels():
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401
    backbone = MODELS.build(dict(type='CMIDResNet', depth=18, in_channels=3))
    pre13 = CMIDDataPreprocessor(mean=[0.] * 13, std=[1.] * 13)
    with pytest.raises(BandCountError) as err:
        check_backbone_bands(pre13, backbone)
    msg = str(err.value)
    assert 'mean/std have 13 values' in msg and 'model.backbone.in_channels=3' in msg
    check_backbone_bands(CMIDDataPreprocessor(mean=[0.] * 3, std=[1.] * 3), backbone)
    swin = MODELS.build(dict(type='CMIDSwinTransformer', arch=dict(
        embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8]), in_channels=13))
    check_backbone_bands(pre13, swin)
    with pytest.raises(BandCountError, match='in_channels=13'):
        check_backbone_bands(CMIDDataPreprocessor(mean=[0.] * 3, std=[1.] * 3), swin)
    with pytest.raises(BandCountError, match='in_channels=4'):
        check_backbone_bands(pre13, dict(type='ResNet', in_channels=4))


def test_cmid_build_refuses_statistics_of_another_band_count():
    """The model build itself runs the check: 13 mean/std values for a 3-band backbone."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    from cmid_mm.models.data_preprocessor import BandCountError
    from tests.helpers import tiny_cmid_cfg
    init_default_scope('mmpretrain')
    cfg = tiny_cmid_cfg(data_preprocessor=dict(type='CMIDDataPreprocessor', mean=[0.] * 13,
                                               std=[1.] * 13))
    with pytest.raises(BandCountError, match='model.backbone.in_channels=3'):
        MODELS.build(cfg)
