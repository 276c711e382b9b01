"""N-band CMID exports into stock backbones built with ``in_channels=N``: mmpretrain,
mmseg and mmdet (the RGB matrix is tests/test_tools/test_model_converters.py), by direct
loading and through a ``Pretrained`` init_cfg, and the band check of the latter.

The checkpoints are the real CMID model's (tests.helpers.write_cmid_checkpoint with an
N-band ResNet-18 student)."""
from __future__ import annotations

import importlib

import pytest
import torch

from cmid_mm.export import BandMismatchError, extract
from cmid_mm.export.load_check import check_pretrained_bands, check_pretrained_loaded
from cmid_mm.utils import safe_load_checkpoint
from tests.helpers import write_cmid_checkpoint

BANDS = (6, 13)


@pytest.fixture(scope='module')
def cmid_nband(tmp_path_factory) -> dict:
    """{N: (CMID checkpoint, student backbone state dict without the mask token)}."""
    d = tmp_path_factory.mktemp('cmid_nband')
    out = {}
    for n in BANDS:
        ckpt, backbone = write_cmid_checkpoint(d / f'cmid_{n}.pth', 'resnet', seed=n,
                                               teacher_offset=None, depth=18, in_channels=n)
        # the real N-band CMID model: its decoder predicts N bands (stride 32: 32 x 32 x N
        # outputs per feature)
        state = safe_load_checkpoint(ckpt)['state_dict']
        assert state['neck.decoder.0.weight'].shape[0] == 32 * 32 * n
        out[n] = ckpt, {k: v for k, v in backbone.state_dict().items() if k != 'mask_token'}
    return out


def _stock_resnet(package: str, n: int, init_cfg: dict | None = None) -> torch.nn.Module:
    """``package``'s own ResNet class (models.backbones.ResNet), depth 18, N bands."""
    cls = importlib.import_module(f'{package}.models.backbones').ResNet
    return cls(depth=18, in_channels=n, init_cfg=init_cfg)


@pytest.mark.parametrize('n', BANDS)
@pytest.mark.parametrize('package', ['mmpretrain', 'mmseg', 'mmdet'])
def test_nband_export_loads_into_stock_resnet(cmid_nband, tmp_path, package, n):
    ckpt, student = cmid_nband[n]
    out = tmp_path / f'r18_{n}_{package}.pth'
    report = extract(ckpt, out, target=package)
    assert report.ok and report.spec.params.get('in_channels') == n
    sd = {k[len('backbone.'):]: v for k, v in safe_load_checkpoint(out)['state_dict'].items()}
    stock = _stock_resnet(package, n)
    res = stock.load_state_dict(sd, strict=False)
    assert not res.missing_keys and not res.unexpected_keys
    own = stock.state_dict()
    assert own['conv1.weight'].shape == (64, n, 7, 7)
    for k, v in student.items():
        torch.testing.assert_close(own[k], v, msg=k)


def test_mmdet_pretrained_init_cfg_loads_every_weight(cmid_nband, tmp_path):
    """The way an mmdet config loads it: ResNet(in_channels=N, init_cfg=Pretrained with
    prefix='backbone.'); the band check passes and every tensor is the student's."""
    ckpt, student = cmid_nband[13]
    out = tmp_path / 'r18_13_mmdet.pth'
    assert extract(ckpt, out, target='mmdet').ok
    model = _stock_resnet('mmdet', 13, dict(type='Pretrained', checkpoint=str(out),
                                            prefix='backbone.'))
    assert check_pretrained_bands(model) == 1
    model.init_weights()
    (load,) = check_pretrained_loaded(model)
    assert load.fraction == 1.0
    own = model.state_dict()
    for k, v in student.items():
        torch.testing.assert_close(own[k], v, msg=k)


def test_mmdet_band_mismatch_names_file_and_counts(cmid_nband, tmp_path):
    """A 6-band export given to a 13-band mmdet ResNet is refused before loading."""
    ckpt, _ = cmid_nband[6]
    out = tmp_path / 'r18_6_mmdet.pth'
    assert extract(ckpt, out, target='mmdet').ok
    model = _stock_resnet('mmdet', 13, dict(type='Pretrained', checkpoint=str(out),
                                            prefix='backbone.'))
    with pytest.raises(BandMismatchError) as err:
        check_pretrained_bands(model)
    msg = str(err.value)
    assert str(out) in msg and 'backbone.conv1.weight takes 6 input band(s)' in msg
    assert 'expects in_channels=13' in msg
