"""--amp bf16: BF16AutocastOptimWrapper (bf16 autocast, no loss scaler) and its checks."""
import importlib.util

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from cmid_mm.engine import BF16AutocastOptimWrapper, check_bf16_supported
from tests.helpers import REPO, TINY_CFG, make_cmid_batch, tiny_cmid_cfg


def _train_module():
    spec = importlib.util.spec_from_file_location('cmid_train_tool_bf16', REPO / 'tools/train.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _merged(amp, **overrides):
    train = _train_module()
    cfg = Config.fromfile(str(TINY_CFG))
    cfg.merge_from_dict(overrides)
    args = train.argparse.Namespace(
        no_validate=False, launcher='none', work_dir='/tmp/x', amp=amp, resume=None,
        auto_scale_lr=False, no_pin_memory=False, no_persistent_workers=False,
        cfg_options=None, config=str(TINY_CFG))
    return train.merge_args(cfg, args)


def test_amp_choices_produce_the_wrappers(monkeypatch):
    train = _train_module()
    for argv, amp in (([], None), (['--amp'], 'fp16'), (['--amp', 'bf16'], 'bf16')):
        monkeypatch.setattr('sys.argv', ['train.py', str(TINY_CFG), *argv])
        assert train.parse_args().amp == amp
    assert _merged(None).optim_wrapper.type == 'OptimWrapper'
    fp16 = _merged('fp16').optim_wrapper  # `--amp` alone: const 'fp16', today's behaviour
    assert fp16.type == 'AmpOptimWrapper' and fp16.loss_scale == 'dynamic'
    bf16 = _merged('bf16').optim_wrapper
    assert bf16.type == 'BF16AutocastOptimWrapper' and 'loss_scale' not in bf16
    with pytest.raises(ValueError, match="--amp bf16 .* has 'SkipNonFiniteOptimWrapper'"):
        _merged('bf16', optim_wrapper=dict(type='SkipNonFiniteOptimWrapper'))


def test_a_cmid_step_runs_under_bf16_autocast(pretrain_tiles):
    files = sorted(pretrain_tiles.glob('*.png'))[:4]
    torch.manual_seed(0)
    MessageHub.get_current_instance().update_info('max_iters', 10)
    model = MODELS.build(tiny_cmid_cfg())
    model.init_weights()
    opt_cfg = _merged('bf16').optim_wrapper.to_dict()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        wrapper = build_optim_wrapper(model, opt_cfg)
    assert isinstance(wrapper, BF16AutocastOptimWrapper) and wrapper.device_type == 'cpu'
    assert not hasattr(wrapper, 'loss_scaler')
    dtypes = []
    model.backbone.conv1.register_forward_hook(lambda _m, _a, out: dtypes.append(out.dtype))
    before = model.backbone.conv1.weight.detach().clone()
    log = model.train_step(make_cmid_batch(files), wrapper)
    assert dtypes and all(d == torch.bfloat16 for d in dtypes)
    assert all(torch.isfinite(v) for v in log.values())
    assert model.backbone.conv1.weight.dtype == torch.float32  # fp32 master weights
    assert not torch.equal(model.backbone.conv1.weight, before)


def test_bf16_refused_where_unsupported(monkeypatch):
    check_bf16_supported('cpu')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda *a, **k: 'Tesla V100')
    with pytest.raises(ValueError, match='--amp bf16 .*Tesla V100 does not support bfloat16'):
        check_bf16_supported('cuda')
    with pytest.raises(ValueError, match='--amp bf16 .*Tesla V100 does not support'):
        _merged('bf16')
    with pytest.raises(ValueError, match="device_type must be cpu or cuda, got 'xpu'"):
        check_bf16_supported('xpu')
