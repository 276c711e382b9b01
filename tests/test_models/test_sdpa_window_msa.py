"""SDPA window attention (opt-in) computes what mmpretrain's WindowMSA computes."""
import pytest
import torch
from mmpretrain.models.utils.attention import WindowMSA

from cmid_mm.models import CMIDSwinTransformer
from cmid_mm.models.utils import SDPAWindowMSA

TINY = dict(arch=dict(embed_dims=16, depths=[2, 2], num_heads=[2, 4]), img_size=32,
            window_size=4, out_indices=(1,), drop_path_rate=0.)


def _pair():
    torch.manual_seed(0)
    stock = CMIDSwinTransformer(**TINY)
    with torch.no_grad():  # a bias large enough that dropping it shows
        for m in stock.modules():
            if isinstance(m, WindowMSA):
                m.relative_position_bias_table.normal_(0, 1.)
        stock.mask_token.normal_()
    sdpa = CMIDSwinTransformer(**TINY, sdpa_window_attention=True)
    assert sdpa.load_state_dict(stock.state_dict()) is not None  # same keys, strict
    return stock, sdpa


def test_sdpa_swin_keeps_keys_and_switches_every_window_attention():
    stock, sdpa = _pair()
    assert list(stock.state_dict()) == list(sdpa.state_dict())
    kinds = [type(m) for m in sdpa.modules() if isinstance(m, WindowMSA)]
    assert kinds == [SDPAWindowMSA] * 4
    assert all(type(m) is WindowMSA for m in stock.modules() if isinstance(m, WindowMSA))


@pytest.mark.parametrize('masked', [False, True])
def test_sdpa_swin_features_and_gradients_match_stock(masked):
    stock, sdpa = _pair()
    x = torch.randn(2, 3, 32, 32)
    mask = (torch.rand(2, 8, 8) > 0.5).float() if masked else None
    outs = []
    for net in (stock, sdpa):
        net.zero_grad()
        xi = x.clone().requires_grad_()
        out = net(xi, mask)[0]
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs.append((out, xi.grad, {k: p.grad for k, p in net.named_parameters()}))
    (o1, gx1, g1), (o2, gx2, g2) = outs
    assert o1.shape == (2, 32, 4, 4)
    torch.testing.assert_close(o2, o1, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(gx2, gx1, atol=1e-5, rtol=1e-4)
    for k in g1:  # the bias tables' gradients included
        torch.testing.assert_close(g2[k], g1[k], atol=1e-5, rtol=1e-4, msg=k)


def test_sdpa_window_msa_with_shift_mask_matches_stock():
    torch.manual_seed(0)
    stock = WindowMSA(8, (2, 2), 2)
    stock.relative_position_bias_table.data.normal_()
    sdpa = SDPAWindowMSA(8, (2, 2), 2)
    sdpa.load_state_dict(stock.state_dict())
    x = torch.randn(6, 4, 8)  # 3 images x 2 windows of 2x2 tokens
    mask = torch.zeros(2, 4, 4)
    mask[1, :2, 2:] = mask[1, 2:, :2] = -100.
    torch.testing.assert_close(sdpa(x, mask), stock(x, mask), atol=1e-5, rtol=1e-4)


def test_sdpa_window_attention_refuses_a_non_bool():
    with pytest.raises(TypeError, match='sdpa_window_attention'):
        CMIDSwinTransformer(**TINY, sdpa_window_attention='yes')
