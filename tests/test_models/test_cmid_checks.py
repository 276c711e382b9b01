"""CMID config values are checked at build, with the key and the allowed range in the message."""
import pytest
from mmpretrain.registry import MODELS

from tests.helpers import tiny_cmid_cfg


def _cfg(**changes) -> dict:
    """The tiny config with nested changes: ``{'local_loss.out_dim': 64}``."""
    cfg = tiny_cmid_cfg()
    for key, value in changes.items():
        *path, last = key.split('.')
        node = cfg
        for p in path:
            node = node[p]
        node[last] = value
    return cfg


@pytest.mark.parametrize('changes,match', [
    ({'loss_weights': dict(rec=1., globl=1.)},
     r"model.loss_weights has unknown keys \['globl'\]; allowed keys are "
     r"\['rec', 'global', 'local'\]"),
    ({'loss_weights': dict(local=-1.)}, r'model.loss_weights.local must be a finite number >= 0'),
    ({'global_head.queue_len': 0}, r'model.global_head.queue_len must be >= 1'),
    ({'global_head.feat_dim': 16},
     r'model.global_head.feat_dim=16 must equal model.projector.out_channels=32'),
    ({'local_loss.out_dim': 64},
     r'model.local_loss.out_dim=64 must equal model.local_head.out_channels=128'),
    ({'projector.in_channels': 2048},
     r'model.projector.in_channels=2048 must equal backbone output channels=512'),
    ({'local_head.in_channels': 256},
     r'model.local_head.in_channels=256 must equal backbone output channels=512'),
    ({'num_matches': 0}, r'model.num_matches must be an int >= 1'),
    ({'teacher': dict(type='CosineEMA', momentum=0.)}, r'model.teacher.momentum must be in'),
    ({'teacher': dict(type='CosineEMA', momentum=0.004, end_momentum=0.9)},
     r'model.teacher.end_momentum must be in \[0, 0.5\]'),
    ({'local_loss.center_momentum': 1.5}, r'model.local_loss.center_momentum must be in'),
    ({'nonfinite_loss': 'ignore'}, r"model.nonfinite_loss must be 'raise' or 'skip'"),
])
def test_bad_values_name_the_key(changes, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(_cfg(**changes))


def test_byol_predictor_must_take_the_projector_output():
    cfg = _cfg(global_head=dict(type='CMIDBYOLHead', predictor=dict(
        type='NonLinearNeck', in_channels=64, hid_channels=64, out_channels=32, num_layers=2,
        with_avg_pool=False)))
    with pytest.raises(ValueError, match=r'model.global_head.predictor.in_channels=64 must '
                                         r'equal model.projector.out_channels=32'):
        MODELS.build(cfg)


def test_keys_of_the_old_global_switch_say_where_they_went():
    with pytest.raises(TypeError, match=r"unknown config keys \['global_mode', 'queue_len'\].*"
                                        r'queue_len is now model.global_head.queue_len'):
        MODELS.build(_cfg(global_mode='moco', queue_len=16))


def test_the_tiny_config_itself_is_valid():
    model = MODELS.build(tiny_cmid_cfg())
    assert model.loss_weights == {'rec': 1., 'global': 1., 'local': 1.}


def test_loss_weights_by_loss_name_survive_config_dump(tmp_path):
    """``global`` is a keyword: a config must be able to say it as ``loss_global`` and the
    dumped run config (what mmengine writes into every work dir) must load again."""
    from mmengine.config import Config

    from cmid_mm.models.algorithms.cmid_checks import check_loss_weights
    cfg = Config(dict(model=dict(loss_weights=dict(loss_rec=0.5, loss_global=0., local=2.))))
    cfg.dump(str(tmp_path / 'run.py'))
    again = Config.fromfile(str(tmp_path / 'run.py'))
    assert check_loss_weights(again.model.loss_weights) == {'rec': 0.5, 'global': 0., 'local': 2.}
    with pytest.raises(ValueError, match="gives the 'global' term twice"):
        check_loss_weights({'global': 1., 'loss_global': 0.})
