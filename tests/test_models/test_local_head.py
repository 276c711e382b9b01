"""CMIDLocalHead: shapes, normalised last layer, the reference's initialisation."""
import math

import torch
import torch.nn as nn

from cmid_mm.models import CMIDLocalHead


def test_shapes_and_weight_norm():
    head = CMIDLocalHead(in_channels=16, hid_channels=32, bottleneck_channels=8, out_channels=24)
    out = head(torch.randn(2, 16, 5))
    assert out.shape == (2, 24, 5)
    g = head.last_layer.parametrizations.weight.original0
    assert torch.equal(g, torch.ones_like(g)) and not g.requires_grad


def test_conv_layers_keep_pytorch_default_init_as_the_reference():
    """The reference's LocalHead inits nn.Linear only, so its Conv1d layers keep
    PyTorch's default: weights and biases uniform in +-1/sqrt(fan_in) (not a
    truncated normal with zero bias)."""
    torch.manual_seed(0)
    head = CMIDLocalHead(in_channels=64, hid_channels=256, bottleneck_channels=32,
                         out_channels=16)
    head.init_weights()
    convs = [m for m in head.mlp if isinstance(m, nn.Conv1d)]
    assert len(convs) == 3
    for conv in convs:
        bound = 1 / math.sqrt(conv.in_channels)
        assert conv.weight.abs().max() <= bound
        assert conv.weight.std() > 0.8 * bound / math.sqrt(3)  # uniform std = bound / sqrt(3)
        assert conv.bias.abs().max() <= bound and conv.bias.abs().min() > 0
