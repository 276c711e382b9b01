"""CMID students keep the stock state-dict layout and add the mask token right."""
import pytest
import torch
from mmengine.config import Config
from mmpretrain.models import ResNet, SwinTransformer
from mmpretrain.registry import MODELS

from cmid_mm.models import CMIDResNet, CMIDSwinTransformer
from tests.helpers import REPO, TINY_CFG


def _assert_stock_layout(student, stock):
    s, t = student.state_dict(), stock.state_dict()
    assert set(s) - set(t) == {'mask_token'}
    assert set(t) - set(s) == set()
    for k in t:
        assert s[k].shape == t[k].shape, k


@pytest.mark.parametrize('depth', [18, 50])
def test_cmid_resnet_keys_equal_stock_resnet(depth):
    _assert_stock_layout(CMIDResNet(depth=depth), ResNet(depth=depth))


def test_cmid_swin_base_keys_equal_stock_swin():
    _assert_stock_layout(CMIDSwinTransformer(arch='B'), SwinTransformer(arch='B'))


def test_cmid_resnet_mask_token_is_residual_and_reaches_masked_cells_only():
    torch.manual_seed(0)
    net, stock = CMIDResNet(depth=18, in_channels=4), ResNet(depth=18, in_channels=4)
    stock.load_state_dict({k: v for k, v in net.state_dict().items() if k != 'mask_token'})
    net.eval()
    stock.eval()  # mmpretrain's ResNet.train() returns None, so no chaining
    x = torch.randn(2, 4, 64, 64)
    mask = torch.zeros(2, 16, 16, dtype=torch.uint8)
    mask[:, :8, :8] = 1
    # zero token: masked forward == stock forward
    assert torch.allclose(net(x, mask)[0], stock(x)[0], atol=1e-5)
    assert torch.allclose(net(x)[0], stock(x)[0], atol=1e-5)
    # the token is added (not replaced) at masked cells of the stem output
    with torch.no_grad():
        net.mask_token.fill_(1.0)
    stem = net.maxpool(net.relu(net.norm1(net.conv1(x))))
    mixed = net.apply_mask_token(stem, mask)
    assert torch.allclose(mixed[:, :, :8, :8], stem[:, :, :8, :8] + 1)
    assert torch.equal(mixed[:, :, 8:, :], stem[:, :, 8:, :])
    net.replace = True
    assert torch.allclose(net.apply_mask_token(stem, mask)[:, :, :8, :8],
                          torch.ones_like(stem[:, :, :8, :8]))


def test_mask_token_gradient_and_bad_mask():
    net = CMIDResNet(depth=18)
    x = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 16, 16)
    mask[0, 0, 0] = 1
    net(x, mask)[0].sum().backward()
    assert net.mask_token.grad is not None and net.mask_token.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='stage-0'):
        net(x, torch.zeros(2, 8, 8))


def test_cmid_swin_masked_forward_shapes_and_zero_token():
    torch.manual_seed(0)
    net = CMIDSwinTransformer(arch='T', img_size=64, in_channels=13, out_indices=(3,),
                              pad_small_map=True)
    net.eval()
    x = torch.randn(1, 13, 64, 64)
    mask = torch.ones(1, 16, 16)
    out = net(x, mask)[0]
    assert out.shape == (1, 768, 2, 2)
    assert torch.allclose(out, net(x)[0], atol=1e-5)  # zero token = stock


def test_resnet_model_configs_zero_init_the_last_bn_of_each_block():
    """As timm's resnet50 (the reference student): each residual branch starts at 0."""
    for path in (REPO / 'configs/cmid/_base_/models/cmid_resnet50.py', TINY_CFG):
        backbone = MODELS.build(Config.fromfile(str(path)).model.backbone)
        backbone.init_weights()
        last_bns = [getattr(m, 'norm3', None) or m.norm2 for m in backbone.modules()
                    if hasattr(m, 'norm2') and hasattr(m, 'conv2')]
        assert len(last_bns) == (16 if 'resnet50' in path.name else 8), path.name
        assert all(torch.equal(bn.weight, torch.zeros_like(bn.weight)) for bn in last_bns)
        assert backbone.norm1.weight.abs().sum() > 0  # the stem BN is not zeroed


def test_swin_model_config_has_no_dropout_or_stochastic_depth():
    """The reference's MaskSwin student and its teacher use drop_rate = drop_path_rate = 0."""
    cfg = Config.fromfile(str(REPO / 'configs/cmid/_base_/models/cmid_swin-base.py'))
    # Swin-T at 64 px: small, with the configured rates
    backbone = MODELS.build({**cfg.model.backbone, 'arch': 'T', 'img_size': 64})
    probs = [m.drop_prob for m in backbone.modules() if hasattr(m, 'drop_prob')]
    dropouts = [m.p for m in backbone.modules() if isinstance(m, torch.nn.Dropout)]
    assert probs and dropouts and all(p == 0. for p in probs + dropouts)
