"""13-band CMID (configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py) on real
13-band Sentinel-2 tiles: statistics from the tool, the pipeline, two training
iterations, and the export of the 13-band backbone into a stock mmpretrain ResNet."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.models.backbones import ResNet
from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS

from cmid_mm.export import extract
from cmid_mm.models.data_preprocessor import check_backbone_bands
from cmid_mm.utils import safe_load_checkpoint
from tests.helpers import REPO, make_cmid_batch, tiny_cmid_cfg
from tools.analysis_tools.band_stats import band_stats

MS_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py'
CROP = 64


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(str(MS_CFG))


@pytest.fixture(scope='module')
def msi_files():
    from cmid_mm.rsdata import build_pretrain_tiles
    files = sorted((build_pretrain_tiles() / 'msi').glob('*.tif'))
    assert len(files) == 64
    return files


def test_band_statistics_are_the_tools_numbers_for_the_tiles(cfg, msi_files):
    mean, std, n = band_stats(msi_files, uint16_scale=10000)
    assert n == 64 * 128 * 128
    pre = cfg.model.data_preprocessor
    np.testing.assert_allclose(pre.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(pre.std, std, rtol=1e-5)
    assert len(pre.mean) == 13 and cfg.model.backbone.in_channels == 13
    assert cfg.model.neck.out_channels == 13


def test_config_dataset_lists_the_geotiff_tiles(cfg, msi_files):
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset.to_dict())
    ds_cfg.update(data_root=str(msi_files[0].parent), lazy_init=True)
    ds = DATASETS.build(ds_cfg)
    ds.full_init()
    assert len(ds) == 64 and ds.get_data_info(0)['img_path'].endswith('.tif')


def test_views_keep_13_bands_on_the_reflectance_scale(cfg, msi_files):
    batch = make_cmid_batch(msi_files[:2], CROP, seed=0, config=MS_CFG)
    for view in batch['inputs']:
        assert view.shape == (2, 13, CROP, CROP) and view.dtype == torch.float32
        assert 0. <= view.min() and view.max() <= 1.  # clipped reflectance
    # the loader really reads the tiles' 13 bands as reflectance (B10 cirrus ~ 0.001)
    load = TRANSFORMS.build(cfg.train_pipeline[0])
    img = load(dict(img_path=str(msi_files[0])))['img']
    assert img.shape == (128, 128, 13) and img[..., 10].mean() < 0.01 < img[..., 3].mean()


def test_two_training_iterations_and_13_band_export(cfg, msi_files, tmp_path):
    from mmengine.runner.checkpoint import save_checkpoint
    torch.manual_seed(0)
    MessageHub.get_current_instance().update_info('max_iters', 2)
    model_cfg = tiny_cmid_cfg(config=MS_CFG, queue_len=16)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.init_weights()
    check_backbone_bands(model.data_preprocessor, model.backbone)
    assert model.backbone.conv1.in_channels == 13
    wrapper = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.05))
    conv1 = model.backbone.conv1.weight.detach().clone()
    decoder = model.neck.decoder[0].weight.detach().clone()
    for it in range(2):
        batch = make_cmid_batch(msi_files[4 * it:4 * it + 4], CROP, seed=it, config=MS_CFG)
        losses = model.train_step(batch, wrapper)
        assert set(losses) >= {'loss_rec', 'loss_global', 'loss_local'}
        assert all(torch.isfinite(v) for v in losses.values()), losses
    # the MIM decoder predicts 13 bands (32 x 32 x 13 outputs per feature) and both
    # the first conv and the decoder were trained
    assert model.neck.decoder[0].out_channels == 32 * 32 * 13
    assert not torch.equal(conv1, model.backbone.conv1.weight)
    assert not torch.equal(decoder, model.neck.decoder[0].weight)

    ckpt = tmp_path / 'cmid13.pth'
    save_checkpoint({'meta': {'cfg': Config(dict(model=model_cfg)).pretty_text},
                     'state_dict': model.state_dict()}, str(ckpt))
    out = tmp_path / 'r18_13band.pth'
    assert extract(ckpt, out).ok
    stock = ResNet(depth=18, in_channels=13)  # the stock mmpretrain class
    sd = {k[len('backbone.'):]: v for k, v in safe_load_checkpoint(out)['state_dict'].items()}
    res = stock.load_state_dict(sd, strict=False)
    assert not res.missing_keys and not res.unexpected_keys
    torch.testing.assert_close(stock.conv1.weight, model.backbone.conv1.weight)


FULL = ['cmid_resnet50_4xb64-adan-200e_s2-13band.py', 'cmid_swin-base_4xb64-adan-200e_s2-13band.py']


@pytest.mark.parametrize('name', FULL)
def test_full_13_band_recipes_are_consistent(name, cfg, msi_files):
    """The full ResNet-50 / Swin-B recipes: same statistics as the CPU config, 13 bands in
    the loader, the backbone, the normalisation and the decoder; the 224 px views of a
    real tile have 13 bands."""
    full = Config.fromfile(str(REPO / 'configs/cmid' / name))
    m = full.model
    assert m.data_preprocessor.mean == cfg.model.data_preprocessor.mean
    assert m.data_preprocessor.std == cfg.model.data_preprocessor.std
    assert m.backbone.in_channels == m.neck.out_channels == len(m.data_preprocessor.mean) == 13
    pipeline = full.train_dataloader.dataset.pipeline
    assert pipeline[0]['num_bands'] == 13
    r = dict(img_path=str(msi_files[0]))
    for t in pipeline:
        r = TRANSFORMS.build(t)(r)
    assert [v.shape for v in r['inputs']] == [(13, 224, 224)] * 2
    from cmid_mm.models.data_preprocessor import CMIDDataPreprocessor
    pre = CMIDDataPreprocessor(**{k: v for k, v in m.data_preprocessor.items() if k != 'type'})
    check_backbone_bands(pre, m.backbone.to_dict())


def test_band_stats_command_writes_the_config_snippet(msi_files, tmp_path, capsys):
    import shutil

    from tools.analysis_tools import band_stats as tool
    root = tmp_path / 'tiles'
    root.mkdir()
    for f in msi_files[:2]:
        shutil.copy(f, root / f.name)
    out = tmp_path / 'stats.py'
    assert tool.main([str(root), '--uint16-scale', '10000', '--out', str(out)]) == 0
    text = out.read_text()
    assert text.startswith(f'# python tools/analysis_tools/band_stats.py {root} '
                           f'--uint16-scale 10000 --out {out}\n')
    values: dict = {}
    exec(compile(text, str(out), 'exec'), values)  # the snippet is config text
    mean, std, _ = band_stats(msi_files[:2], uint16_scale=10000)
    np.testing.assert_allclose(values['band_mean'], mean, rtol=1e-5)
    np.testing.assert_allclose(values['band_std'], std, rtol=1e-5)
    # a folder mixing 13-band tiles and an RGB subset of one names both files
    import rasterio
    with rasterio.open(msi_files[0]) as src:
        profile, rgb = src.profile, src.read([4, 3, 2])
    profile.update(count=3)
    with rasterio.open(root / 'zz_rgb.tif', 'w', **profile) as dst:
        dst.write(rgb)
    assert tool.main([str(root)]) == 1
    err = capsys.readouterr().err
    assert 'zz_rgb.tif has 3 band(s)' in err and f'{msi_files[0].name} has 13' in err


def test_strong_view_ops_for_13_bands(cfg, msi_files):
    """What the config documents: no RGB-only ops, per-band solarize, noise of ~0.1
    visible-band std."""
    view_b = cfg.train_pipeline[2]['view_pipelines'][1]
    types = [t['type'] for t in view_b]
    assert 'RSToGray' not in types
    solarize = view_b[types.index('RSSolarize')]
    assert solarize['band_mean'] == cfg.band_mean and solarize['band_std'] == cfg.band_std
    jitter = view_b[types.index('RSColorJitter')]
    assert jitter['saturation'] == 0 and jitter['hue'] == 0
    noise = TRANSFORMS.build({**view_b[types.index('RSGaussNoise')], 'prob': 1.0})
    img = TRANSFORMS.build(cfg.train_pipeline[0])(dict(img_path=str(msi_files[0])))['img']
    np.random.seed(0)
    diff = noise(dict(img=img.copy()))['img'] - img
    assert 0.0008 < diff[..., 1:4].std() < 0.0025  # std 0.001-0.002 reflectance
    assert diff[..., 1:4].std() < 0.2 * img[..., 1:4].reshape(-1, 3).std(0).max()
