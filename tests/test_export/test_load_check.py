"""No silent loads: cmid_mm.export.load_check on a model-level ``pretrained=`` (what
mmseg / open-cd EncoderDecoder configs use) and on backbone ``init_cfg`` prefixes.

mmengine loads ``Pretrained`` checkpoints with ``strict=False`` and only logs what
did not fit, so each bad case below first shows that ``init_weights()`` itself
passes quietly, then that the check fails loudly with the fix in its message.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import init_default_scope

from cmid_mm.export import BACKBONE_PREFIX, PretrainedLoadError, check_pretrained_loaded, extract
from cmid_mm.export.load_check import PretrainedLoadCheckHook
from cmid_mm.utils import safe_load_checkpoint
from tests.helpers import write_cmid_checkpoint


@pytest.fixture(scope='module')
def r18_exports(tmp_path_factory):
    """A real (tiny) CMID checkpoint's student exported for mmseg, with and without
    the ``backbone.`` prefix."""
    folder = tmp_path_factory.mktemp('load_check')
    src, _ = write_cmid_checkpoint(folder / 'cmid.pth', 'resnet', depth=18)
    files = {}
    for name, prefix in (('prefixed', BACKBONE_PREFIX), ('bare', '')):
        files[name] = folder / f'r18_{name}.pth'
        assert extract(src, files[name], 'mmseg', prefix=prefix).ok
        sd = safe_load_checkpoint(files[name])['state_dict']
        weights = {k[len(prefix):]: v for k, v in sd.items()}
    return files, weights


def _segmentor(pretrained=None, init_cfg=None, init=True):
    """A small mmseg EncoderDecoder with a stock ResNet-18 (no forward pass needed)."""
    from mmengine.config import ConfigDict
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    backbone = dict(type='ResNet', depth=18)
    if init_cfg is not None:
        backbone['init_cfg'] = init_cfg
    model = MODELS.build(ConfigDict(
        type='EncoderDecoder', pretrained=pretrained, backbone=backbone,
        decode_head=dict(type='FCNHead', in_channels=512, in_index=3, channels=16,
                         num_convs=1, num_classes=2)))
    if init:
        model.init_weights()  # strict=False inside: never raises on a key mismatch
    return model


def _equal(model, weights) -> bool:
    got = model.backbone.state_dict()
    return set(got) == set(weights) and all(torch.equal(got[k], weights[k]) for k in got)


def test_model_level_pretrained_takes_the_no_prefix_export(r18_exports):
    files, weights = r18_exports
    model = _segmentor(pretrained=str(files['bare']))
    assert _equal(model, weights)
    (report, ) = check_pretrained_loaded(model, min_fraction=1.0)
    assert report.module == 'backbone' and report.fraction == 1.0 and not report.not_loaded


def test_model_level_pretrained_with_prefixed_keys_fails_loudly(r18_exports):
    files, weights = r18_exports
    model = _segmentor(pretrained=str(files['prefixed']))  # loads nothing, no error
    assert not _equal(model, weights)
    with pytest.raises(PretrainedLoadError) as err:
        check_pretrained_loaded(model)
    msg = str(err.value)
    assert 'backbone: 0 of 100 tensors' in msg and str(files['prefixed']) in msg
    assert '--no-prefix' in msg and "prefix='backbone.'" in msg


def test_the_check_counts_values_not_names(r18_exports):
    """Right names are not enough: before init_weights() nothing has landed."""
    files, _ = r18_exports
    model = _segmentor(pretrained=str(files['bare']), init=False)
    with pytest.raises(PretrainedLoadError, match='backbone: 0 of 100 tensors'):
        check_pretrained_loaded(model)
    model.init_weights()
    assert check_pretrained_loaded(model, min_fraction=1.0)


def test_init_cfg_with_prefix_takes_the_prefixed_export(r18_exports):
    """The benchmark configs' form; a prefix absent from the file is already loud
    in mmengine (AssertionError), so it needs no check of ours."""
    files, weights = r18_exports
    good = _segmentor(init_cfg=dict(type='Pretrained', checkpoint=str(files['prefixed']),
                                    prefix='backbone.'))
    assert _equal(good, weights)
    (report, ) = check_pretrained_loaded(good, min_fraction=1.0)
    assert report.prefix == 'backbone.' and report.fraction == 1.0
    with pytest.raises(AssertionError, match='backbone. is not in the pretrained model'):
        _segmentor(init_cfg=dict(type='Pretrained', checkpoint=str(files['bare']),
                                 prefix='backbone.'))


def test_partly_loaded_module_is_measured(r18_exports, tmp_path):
    """A file missing most of the backbone fails; the threshold is a fraction."""
    files, _ = r18_exports
    ckpt = safe_load_checkpoint(files['bare'])
    floats = [k for k, v in ckpt['state_dict'].items() if v.is_floating_point()]
    kept = floats[:len(floats) // 4]
    ckpt['state_dict'] = {k: ckpt['state_dict'][k] for k in kept}
    torch.save(ckpt, tmp_path / 'quarter.pth')
    model = _segmentor(pretrained=str(tmp_path / 'quarter.pth'))
    (report, ) = check_pretrained_loaded(model, min_fraction=0.2)
    assert report.loaded == kept
    with pytest.raises(PretrainedLoadError, match=f'{len(kept)} of {len(floats)} tensors'):
        check_pretrained_loaded(model, min_fraction=0.5)


def test_hook_fails_before_training_unless_weights_are_replaced(r18_exports):
    files, _ = r18_exports
    model = _segmentor(pretrained=str(files['prefixed']))
    logs = []
    runner = SimpleNamespace(model=model, _load_from=None, _resume=False,
                             logger=SimpleNamespace(info=logs.append))
    with pytest.raises(PretrainedLoadError):
        PretrainedLoadCheckHook().before_train(runner)
    runner._load_from = 'work_dirs/x/epoch_1.pth'  # load_from replaces the init anyway
    PretrainedLoadCheckHook().before_train(runner)
    good = _segmentor(pretrained=str(files['bare']))
    runner = SimpleNamespace(model=good, _load_from=None, _resume=False,
                             logger=SimpleNamespace(info=logs.append))
    PretrainedLoadCheckHook().before_train(runner)
    assert len(logs) == 1 and 'backbone: ' in logs[0]
