"""RGB -> N-band adaptation (cmid_mm.export.band_adapt, tools/model_converters/rgb_to_nband.py)
on real checkpoint files: CMID checkpoints of the real model
(tests.helpers.write_cmid_checkpoint) and their exports (cmid_mm.export.extract)."""
from __future__ import annotations

import pytest
import torch

from cmid_mm.export import (
    BackboneSpec,
    BandMismatchError,
    adapt_checkpoint,
    build_stock,
    check_checkpoint_bands,
    extract,
)
from cmid_mm.export.band_adapt import adapt_first_conv
from cmid_mm.utils import safe_load_checkpoint
from tests.helpers import write_cmid_checkpoint
from tools.model_converters import rgb_to_nband

S2_RGB = (3, 2, 1)  # B04, B03, B02 in the 13-band order B01..B12
TINY_SWIN = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])


@pytest.fixture(scope='module')
def r18(tmp_path_factory):
    d = tmp_path_factory.mktemp('r18')
    ckpt, backbone = write_cmid_checkpoint(d / 'cmid.pth', 'resnet', depth=18)
    exported = d / 'r18_export.pth'
    assert extract(ckpt, exported).ok
    return ckpt, exported, backbone.state_dict()


def _stock_load(path, spec_params: dict, kind: str = 'ResNet', package: str = 'mmpretrain',
                prefix: str = 'backbone.'):
    model = build_stock(BackboneSpec(kind, spec_params), package)
    sd = safe_load_checkpoint(path)['state_dict']
    sd = {k[len(prefix):]: v for k, v in sd.items()}
    return model, model.load_state_dict(sd, strict=False), sd


def test_adapted_export_loads_into_stock_resnet_with_n_bands(r18, tmp_path):
    _, exported, student = r18
    out = tmp_path / 'r18_13.pth'
    assert rgb_to_nband.main([str(exported), str(out), '--num-bands', '13',
                              '--rgb-bands', *map(str, S2_RGB)]) == 0
    model, res, sd = _stock_load(out, dict(depth=18, in_channels=13))
    assert not res.missing_keys and not res.unexpected_keys
    w_rgb, w = student['conv1.weight'], sd['conv1.weight']
    assert w.shape == (64, 13, 7, 7)
    for colour, band in enumerate(S2_RGB):  # RGB filters on B04/B03/B02, scaled by 3/13
        torch.testing.assert_close(w[:, band], w_rgb[:, colour] * 3 / 13)
    torch.testing.assert_close(w[:, 0], w_rgb.mean(1) * 3 / 13)  # B01: mean filter
    torch.testing.assert_close(w[:, 12], w_rgb.mean(1) * 3 / 13)
    # every other key is the RGB backbone's, untouched
    torch.testing.assert_close(sd['layer4.1.conv2.weight'], student['layer4.1.conv2.weight'])
    meta = safe_load_checkpoint(out)['meta']['cmid_export']
    assert meta['band_adapt']['rgb_bands'] == list(S2_RGB)
    assert meta['backbone_kwargs']['in_channels'] == 13


def test_mean_rule_preserves_the_activation_of_a_flat_input(r18):
    """N equal bands x through the adapted conv = the RGB conv on (x, x, x)."""
    _, _, student = r18
    w_rgb = student['conv1.weight']
    w = adapt_first_conv(w_rgb, 13, S2_RGB, 'mean')
    x = torch.rand(1, 1, 16, 16)
    out_rgb = torch.nn.functional.conv2d(x.expand(1, 3, 16, 16), w_rgb)
    out_n = torch.nn.functional.conv2d(x.expand(1, 13, 16, 16), w)
    torch.testing.assert_close(out_n, out_rgb, rtol=1e-4, atol=1e-5)


def test_zero_rule_keeps_the_rgb_function(r18):
    _, _, student = r18
    w_rgb = student['conv1.weight']
    w = adapt_first_conv(w_rgb, 13, S2_RGB, 'zero')
    x = torch.rand(1, 13, 16, 16)
    torch.testing.assert_close(torch.nn.functional.conv2d(x, w),
                               torch.nn.functional.conv2d(x[:, list(S2_RGB)], w_rgb))


def test_cmid_checkpoint_teacher_and_no_prefix(r18, tmp_path):
    ckpt, _, student = r18
    out = tmp_path / 't.pth'
    res = adapt_checkpoint(ckpt, out, 13, S2_RGB, teacher=True, prefix='')
    assert res.ok
    _, load, sd = _stock_load(out, dict(depth=18, in_channels=13), prefix='')
    assert not load.missing_keys and not load.unexpected_keys
    # the teacher of write_cmid_checkpoint is the student + 1
    torch.testing.assert_close(sd['bn1.weight'], student['bn1.weight'] + 1)


def test_swin_patch_embed_is_adapted_for_mmseg(tmp_path):
    ckpt, backbone = write_cmid_checkpoint(tmp_path / 'swin.pth', 'swin', arch=TINY_SWIN)
    exported = tmp_path / 'swin_seg.pth'
    assert extract(ckpt, exported, target='mmseg').ok
    out = tmp_path / 'swin_seg_13.pth'
    assert adapt_checkpoint(exported, out, 13, S2_RGB).ok  # target taken from the export
    params = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8], window_size=7,
                  patch_size=4, in_channels=13)
    model, load, sd = _stock_load(out, params, 'SwinTransformer', 'mmseg')
    assert not load.missing_keys and not load.unexpected_keys
    w_rgb = backbone.state_dict()['patch_embed.projection.weight']
    torch.testing.assert_close(sd['patch_embed.projection.weight'][:, 3], w_rgb[:, 0] * 3 / 13)


def test_refuses_a_checkpoint_that_is_not_rgb(r18, tmp_path, capsys):
    _, exported, _ = r18
    n13 = tmp_path / 'n13.pth'
    assert adapt_checkpoint(exported, n13, 13, S2_RGB).ok
    again = tmp_path / 'again.pth'
    assert rgb_to_nband.main([str(n13), str(again), '--num-bands', '13',
                              '--rgb-bands', '3', '2', '1']) == 1
    err = capsys.readouterr().err
    assert str(n13) in err and 'conv1.weight takes 13 input band(s)' in err
    assert not again.exists()


@pytest.mark.parametrize('rgb', [(3, 2, 2), (3, 2, 13), (3, 2)])
def test_refuses_bad_band_indices(r18, tmp_path, rgb):
    _, exported, _ = r18
    with pytest.raises(Exception, match='rgb_bands must be 3 distinct'):
        adapt_checkpoint(exported, tmp_path / 'x.pth', 13, rgb)
    assert not (tmp_path / 'x.pth').exists()


def test_checkpoint_band_check_names_file_key_and_counts(r18, tmp_path):
    """Checkpoint vs model: a 3-band file given to a 13-band backbone."""
    ckpt, exported, _ = r18
    check_checkpoint_bands(exported, 3)
    check_checkpoint_bands(ckpt, 3)
    with pytest.raises(BandMismatchError) as err:
        check_checkpoint_bands(exported, 13)
    msg = str(err.value)
    assert str(exported) in msg and 'conv1.weight takes 3 input band(s)' in msg
    assert 'in_channels=13' in msg and 'rgb_to_nband.py' in msg


def test_pretrained_init_with_other_bands_is_refused_by_name(r18, tmp_path):
    """A 3-band export given to a stock ResNet(in_channels=13) through init_cfg: mmengine
    skips conv1 with a log line and the tensor-count check passes; the band check names
    the file, the key and both counts."""
    from mmpretrain.models.backbones import ResNet

    from cmid_mm.export import check_pretrained_loaded
    from cmid_mm.export.load_check import check_pretrained_bands
    _, exported, _ = r18

    def build(ckpt):
        return ResNet(depth=18, in_channels=13, init_cfg=dict(
            type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))

    model = build(exported)
    model.init_weights()
    check_pretrained_loaded(model)  # 1 tensor of ~100 missing: not seen by the count
    with pytest.raises(BandMismatchError) as err:
        check_pretrained_bands(model)
    msg = str(err.value)
    assert str(exported) in msg and 'backbone.conv1.weight takes 3 input band(s)' in msg
    assert 'conv1.weight of the model expects in_channels=13' in msg
    adapted = tmp_path / 'r18_13.pth'
    assert adapt_checkpoint(exported, adapted, 13, S2_RGB).ok
    model = build(adapted)
    assert check_pretrained_bands(model) == 1
    model.init_weights()
    torch.testing.assert_close(
        model.conv1.weight, safe_load_checkpoint(adapted)['state_dict']['backbone.conv1.weight'])


def test_model_level_pretrained_band_check_mmseg(r18, tmp_path):
    """mmseg EncoderDecoder with pretrained= (no prefix) and a 13-band backbone."""
    from mmengine.config import ConfigDict
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from cmid_mm.export.load_check import check_pretrained_bands
    ckpt, _, _ = r18
    plain = tmp_path / 'r18_plain.pth'
    assert extract(ckpt, plain, target='mmseg', prefix='').ok
    init_default_scope('mmseg')
    cfg = ConfigDict(type='EncoderDecoder', pretrained=str(plain),
                     backbone=dict(type='ResNet', depth=18, in_channels=13),
                     decode_head=dict(type='FCNHead', in_channels=512, channels=16,
                                      num_classes=2, in_index=3))
    model = MODELS.build(cfg)
    with pytest.raises(BandMismatchError, match=r'conv1.weight takes 3 input band\(s\)'):
        check_pretrained_bands(model)


def test_whole_model_pretrained_band_check(r18):
    """A classifier whose own init_cfg loads the export (keys backbone.conv1.weight)."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    from cmid_mm.export.load_check import check_pretrained_bands
    _, exported, _ = r18
    init_default_scope('mmpretrain')
    model = MODELS.build(dict(
        type='ImageClassifier', init_cfg=dict(type='Pretrained', checkpoint=str(exported)),
        backbone=dict(type='ResNet', depth=18, in_channels=13),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=2, in_channels=512)))
    with pytest.raises(BandMismatchError, match='backbone.conv1.weight of the model expects '
                                                'in_channels=13'):
        check_pretrained_bands(model)
