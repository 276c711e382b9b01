"""The reconstruction diagnostics: pixel vs frequency part of ``loss_rec`` and each band's
share (CMIDMIMHead.diagnostics, CMID(log_rec_parts=True)), on real 13-band tiles."""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS

from tests.helpers import REPO, make_cmid_batch, tiny_cmid_cfg

MSI_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py'


@pytest.fixture(scope='module')
def msi_batch() -> dict:
    from cmid_mm.rsdata import build_pretrain_tiles
    files = sorted((build_pretrain_tiles() / 'msi').glob('*.tif'))[:4]
    return make_cmid_batch(files, crop_size=64, config=MSI_CFG)


def _model(log_rec_parts: bool):
    torch.manual_seed(0)
    MessageHub.get_current_instance().update_info('max_iters', 10)
    cfg = tiny_cmid_cfg(config=MSI_CFG, log_rec_parts=log_rec_parts)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return model


def test_parts_add_up_to_the_loss(msi_batch):
    model = _model(False)
    data = model.data_preprocessor(copy.deepcopy(msi_batch), training=True)['inputs']
    img, mask = data['img'][1], data['mask'][1]
    pred = img + 0.5 * torch.randn_like(img)  # a reconstruction with errors everywhere
    pred[:, 10] += 3.  # and one band much worse
    head = model.head
    loss = head.loss(pred, img, mask)
    parts = head.diagnostics(pred, img, mask)
    assert torch.allclose(parts['rec_pix'] + parts['rec_freq'], loss, rtol=1e-5)
    names = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10',
             'B11', 'B12']
    for part in ('pix', 'freq'):
        per_band = torch.stack([parts[f'rec_{part}_{b}'] for b in names])
        assert torch.allclose(per_band.sum(), parts[f'rec_{part}'], rtol=1e-5)
        assert per_band.argmax() == names.index('B10')  # the band made worse
    assert parts['rec_fdist_masked'] > 0 and parts['rec_fdist_unmasked'] > 0
    fft = head.fft_loss
    mixed = head._mixed(pred, img, torch.ones_like(img[:, :1]))
    assert torch.equal(fft.loss_map(mixed, img).mean(), fft(mixed, img))
    assert not any('loss' in k for k in parts)  # logged, never summed into the objective


def test_log_rec_parts_logs_and_changes_nothing(msi_batch):
    plain, logged = _model(False), _model(True)
    out = {}
    for name, model in (('plain', plain), ('logged', logged)):
        torch.manual_seed(1)
        data = model.data_preprocessor(copy.deepcopy(msi_batch), training=True)
        out[name] = model(**data, mode='loss')
    a, b = out['plain'], out['logged']
    assert set(a) == {'loss_rec', 'loss_global', 'loss_local'}
    assert {'rec_pix', 'rec_freq', 'rec_pix_B10', 'rec_freq_B01'} <= set(b)
    for k in a:
        assert torch.equal(a[k], b[k])
    assert torch.allclose(b['rec_pix'] + b['rec_freq'], b['loss_rec'], rtol=1e-5)
    total_a, _ = BaseModel.parse_losses(plain, a)
    total_b, log_vars = BaseModel.parse_losses(logged, b)
    assert torch.equal(total_a, total_b) and 'rec_pix_B10' in log_vars
    assert not b['rec_pix'].requires_grad


def test_band_names_must_match_the_bands(msi_batch):
    cfg = Config.fromfile(str(MSI_CFG))
    head = MODELS.build({**cfg.model.head.to_dict(), 'band_names': ['B01', 'B02']})
    x = torch.zeros(1, 13, 32, 32)
    with pytest.raises(ValueError, match='band_names has 2 names but the reconstruction '
                                         'has 13 bands'):
        head.diagnostics(x, x, torch.zeros(1, 8, 8))
