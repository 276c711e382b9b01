"""Exported CMID ViT-B/16 backbones in stock upstream configs (the ViT rows of the
stock-config matrix of test_upstream_configs.py, same checks).

mmseg's ViT reads a ``Pretrained`` checkpoint *without* stripping a prefix (its own
``init_weights``, which also resizes ``pos_embed`` to the config's ``img_size``), so
the mmseg export is written with ``--prefix ''`` and given as the model-level
``pretrained``; the documented overrides are ``pretrained`` and ``patch_bias=True``
(mmseg builds the patch convolution without bias by default; CMIDViT has one).
"""
from __future__ import annotations

import pytest
import torch

from cmid_mm.export import check_pretrained_loaded
from tests.helpers import write_cmid_checkpoint

from .downstream_helpers import export
from .test_upstream_configs import _build, _stock

CASES = {
    'mmpretrain-vit-b16': (
        'mmpretrain::vision_transformer/vit-base-p16_64xb64_in1k.py', 'mmpretrain',
        # the stock backbone's init_cfg is a list (Kaiming for the patch conv): replace it by
        # a *dict* (_delete_): with a list, mmpretrain's ViT.init_weights re-draws pos_embed
        # after loading (it skips that only for a dict init_cfg of type Pretrained)
        'backbone.', lambda ckpt: {'model.backbone.init_cfg': dict(
            _delete_=True, type='Pretrained', checkpoint=ckpt, prefix='backbone.')}),
    'mmseg-upernet-vit-b16': (
        'mmseg::vit/vit_vit-b16-ln_mln_upernet_8xb2-160k_ade20k-512x512.py', 'mmseg', '',
        lambda ckpt: {'model.pretrained': ckpt, 'model.backbone.patch_bias': True}),
}


@pytest.fixture(scope='module')
def vit_source(tmp_path_factory):
    folder = tmp_path_factory.mktemp('upstream_vit')
    return write_cmid_checkpoint(folder / 'cmid_vit-b.pth', 'vit', teacher_offset=None)[0]


@pytest.mark.parametrize('case', list(CASES))
def test_stock_vit_config_takes_every_exported_weight(vit_source, case, tmp_path):
    path, target, prefix, override = CASES[case]
    out = tmp_path / f'{case}.pth'
    weights = export(vit_source, out, target, prefix=prefix)
    model = _build(_stock(path, tmp_path, override(str(out))))
    model.init_weights()
    got = model.backbone.state_dict()
    missing, unexpected = sorted(set(got) - set(weights)), sorted(set(weights) - set(got))
    assert not missing and not unexpected, (case, missing[:5], unexpected[:5])
    resized = {'pos_embed'} if got['pos_embed'].shape != weights['pos_embed'].shape else set()
    differ = [k for k in got if k not in resized and not torch.equal(got[k], weights[k])]
    assert not differ, (case, differ[:5])
    if resized:  # mmseg at 512 px: 14 x 14 -> 32 x 32 by its own resize, CLS kept
        assert got['pos_embed'].shape == (1, 1 + 32 * 32, 768)
        assert torch.equal(got['pos_embed'][:, 0], weights['pos_embed'][:, 0])
    (report, ) = [r for r in check_pretrained_loaded(model, min_fraction=0.99)
                  if r.module == 'backbone']
    assert report.fraction >= 0.99
