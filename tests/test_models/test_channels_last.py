"""CMIDResNet(channels_last=True): NHWC weights and activations, the same CMID step."""
from __future__ import annotations

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS

from tests.helpers import make_cmid_batch, tiny_cmid_cfg


def _build(channels_last: bool, dtype: torch.dtype):
    MessageHub.get_current_instance().update_info('max_iters', 100)
    cfg = tiny_cmid_cfg()
    cfg['backbone'] = dict(cfg['backbone'], channels_last=channels_last)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.to(dtype)


def _step(model, batch, dtype):
    data = model.data_preprocessor(batch, training=True)
    data['inputs'] = {k: [t.to(dtype) if t.is_floating_point() else t for t in v]
                      for k, v in data['inputs'].items()}
    torch.manual_seed(1)  # the step draws random numbers (the matched positions)
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in losses.items()}, grads


def test_channels_last_step_equals_the_default_layout(pretrain_tiles):
    """In float64 the NHWC step gives the default layout's losses and gradients to 1e-9
    (float32 differs by rounding only: docs/benchmarks.md, "channels_last")."""
    dtype = torch.float64
    files = sorted(pretrain_tiles.glob('*.png'))[:4]
    batch = make_cmid_batch(files, crop_size=64, seed=0)
    ref_model, nhwc = _build(False, dtype), _build(True, dtype)
    nhwc.load_state_dict(ref_model.state_dict())  # same values, NHWC strides kept
    for net in (nhwc.backbone, nhwc.teacher.module.backbone):
        assert net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
        assert net.layer4[-1].conv2.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.zeros(2, 3, 64, 64, dtype=dtype)
    assert nhwc.backbone(x)[-1].is_contiguous(memory_format=torch.channels_last)
    assert not ref_model.backbone(x)[-1].is_contiguous(memory_format=torch.channels_last)
    ref_losses, ref_grads = _step(ref_model, batch, dtype)
    losses, grads = _step(nhwc, batch, dtype)
    assert set(grads) == set(ref_grads) and 'backbone.mask_token' in grads
    for k, v in ref_losses.items():
        torch.testing.assert_close(losses[k], v, rtol=1e-9, atol=1e-12)
    for k, g in ref_grads.items():
        torch.testing.assert_close(grads[k], g, rtol=1e-9, atol=1e-12, msg=k)


def test_bad_value_is_refused():
    from cmid_mm.models import CMIDResNet
    with pytest.raises(ValueError, match='model.backbone.channels_last must be True or False'):
        CMIDResNet(depth=18, channels_last='yes')
