"""CompileBackbonesHook: compiled backbones compute what eager ones do; bad setups fail early."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger
from torch import nn

from cmid_mm.engine import CompileBackbonesHook
from cmid_mm.engine.hooks import compile_backbones_hook as cbh
from cmid_mm.models import CMIDResNet


def _cmid_like() -> nn.Module:
    """Student backbone + ``teacher.module.backbone``, as CMID holds them."""
    torch.manual_seed(0)
    model = nn.Module()
    model.backbone = CMIDResNet(depth=18, out_indices=(3,))
    model.backbone.init_weights()
    model.teacher = nn.Module()
    model.teacher.module = nn.Module()
    model.teacher.module.backbone = copy.deepcopy(model.backbone)
    return model


def _runner(model):
    return SimpleNamespace(model=model, logger=MMLogger.get_instance('test_compile'))


def _features_and_grads(backbone, x, mask):
    backbone.zero_grad()
    xi = x.clone().requires_grad_()
    out = backbone(xi, mask)[-1]
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return out.detach(), xi.grad, {k: p.grad.clone() for k, p in backbone.named_parameters()}


def test_compiled_resnet18_matches_eager_features_and_gradients():
    error = cbh.probe_compile('inductor', None, torch.device('cpu'))
    if error is not None or cbh.inductor_compiler() is None:
        pytest.skip(f'torch.compile (inductor) does not work on this CPU: {error}')
    model = _cmid_like()
    eager = copy.deepcopy(model.backbone)
    keys = list(model.state_dict())
    CompileBackbonesHook().before_run(_runner(model))
    assert list(model.state_dict()) == keys  # no _orig_mod. prefix
    assert model.backbone._compiled_call_impl is not None
    assert model.teacher.module.backbone._compiled_call_impl is not None
    torch.manual_seed(1)
    x = torch.randn(2, 3, 64, 64)  # 2x2 maps in layer4: BN statistics over 8 values
    mask = (torch.rand(2, 16, 16) > 0.5).float()
    with torch.no_grad():
        model.backbone.mask_token.normal_()
        eager.mask_token.copy_(model.backbone.mask_token)
    o1, gx1, g1 = _features_and_grads(eager, x, mask)
    o2, gx2, g2 = _features_and_grads(model.backbone, x, mask)
    assert o1.abs().sum() > 0
    # fused kernels sum in another order; compare relative to each tensor's norm
    for name, a, b in [('features', o2, o1), ('input grad', gx2, gx1),
                       *[(k, g2[k], g1[k]) for k in g1]]:
        assert (a - b).norm() <= 1e-3 * b.norm() + 1e-6, name


def test_compile_backbones_names_both_and_needs_a_backbone():
    model = _cmid_like()
    assert cbh.compile_backbones(model, backend='eager') == ['backbone', 'teacher.module.backbone']
    with pytest.raises(ValueError, match='CompileBackbonesHook.*no backbone'):
        cbh.compile_backbones(nn.Linear(2, 2), backend='eager')


def test_failing_probe_stops_before_run_with_the_hook_named(monkeypatch):
    monkeypatch.setattr(cbh, 'probe_compile', lambda *a: 'InductorError: no working compiler')
    model = _cmid_like()
    with pytest.raises(RuntimeError, match='CompileBackbonesHook.*inductor.*no working compiler'):
        CompileBackbonesHook().before_run(_runner(model))
    assert model.backbone._compiled_call_impl is None  # nothing compiled


def test_missing_cxx_compiler_fails_at_build_with_the_hook_named(monkeypatch):
    monkeypatch.setattr(cbh.shutil, 'which', lambda name: None)
    assert cbh.inductor_compiler() is None
    with pytest.raises(RuntimeError, match='CompileBackbonesHook.*C\\+\\+ compiler'):
        CompileBackbonesHook()
    CompileBackbonesHook(backend='eager')  # needs no compiler


@pytest.mark.parametrize('kwargs, word', [(dict(backend='nope'), 'backend'),
                                          (dict(mode='fast'), 'mode')])
def test_unknown_backend_or_mode_fails_at_build(kwargs, word):
    with pytest.raises(ValueError, match=f'CompileBackbonesHook: {word}='):
        CompileBackbonesHook(**kwargs)
