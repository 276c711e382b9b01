"""CMIDViT keeps the stock ViT layout and masks patch embeddings like the reference."""
import pytest
import torch
from mmpretrain.models import VisionTransformer

from cmid_mm.models import CMIDResNet, CMIDSwinTransformer, CMIDViT

TINY = dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
            img_size=64, patch_size=16)


def _pair(replace: bool = True):
    torch.manual_seed(0)
    net = CMIDViT(**TINY, replace=replace)
    stock = VisionTransformer(**TINY, out_type='featmap')
    net.init_weights()
    with torch.no_grad():  # non-trivial position embedding (stock init is zeros)
        net.pos_embed.normal_(std=0.5)
    stock.load_state_dict({k: v for k, v in net.state_dict().items() if k != 'mask_token'})
    net.eval()
    stock.eval()  # mmpretrain backbones' train() may return None: no chaining
    return net, stock


@pytest.mark.parametrize('arch', ['deit-small', 'base'])
def test_cmid_vit_keys_equal_stock_vit_plus_mask_token(arch):
    s = CMIDViT(arch=arch).state_dict()
    t = VisionTransformer(arch=arch).state_dict()
    assert set(s) - set(t) == {'mask_token'}
    assert set(t) - set(s) == set()
    assert all(s[k].shape == t[k].shape for k in t)


def test_unmasked_and_zero_mask_forward_equal_the_stock_patch_map():
    net, stock = _pair()
    x = torch.randn(2, 3, 64, 64)
    ref = stock(x)[0]
    assert ref.shape == (2, 32, 4, 4)  # stride 16, every patch kept
    assert torch.allclose(net(x)[0], ref, atol=1e-6)
    assert torch.allclose(net(x, torch.zeros(2, 4, 4))[0], ref, atol=1e-6)
    assert net.out_stride == net.mask_stride == 16


def test_masked_patches_are_replaced_before_the_position_embedding():
    net, _ = _pair()
    with torch.no_grad():
        net.mask_token.normal_()
    x = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 4, 4)
    mask[:, 0, :2] = 1
    # the same input with patches (0,0),(0,1) replaced by the token, computed by hand:
    # the first transformer layer's input must be token + pos_embed at those positions
    seen = {}
    net.layers[0].register_forward_pre_hook(lambda m, a: seen.setdefault('in', a[0].clone()))
    out = net(x, mask)[0]
    tokens = seen['in']  # (B, 1 + 16, C)
    pos = net.pos_embed[0, 1:]  # (16, C)
    token = net.mask_token.view(-1)
    assert torch.allclose(tokens[:, 1], token + pos[0], atol=1e-6)
    assert torch.allclose(tokens[:, 2], token + pos[1], atol=1e-6)
    emb = net.patch_embed(x)[0]
    assert torch.allclose(tokens[:, 3:], emb[:, 2:] + pos[2:], atol=1e-6)
    out.sum().backward()
    assert net.mask_token.grad.abs().sum() > 0


def test_added_token_mode_and_bad_mask_size():
    net, _ = _pair(replace=False)
    with pytest.raises(ValueError, match=r'model_patch_size .*\(16\)'):
        net(torch.randn(1, 3, 64, 64), torch.zeros(1, 16, 16))
    with pytest.raises(ValueError, match='out_type'):
        CMIDViT(**TINY, out_type='cls_token')


def test_output_strides_of_the_students():
    assert CMIDResNet(depth=18).out_stride == 32 and CMIDResNet(depth=18).mask_stride == 4
    swin = CMIDSwinTransformer(arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                                         num_heads=[1, 1, 1, 1]), img_size=64)
    assert (swin.out_stride, swin.mask_stride) == (32, 4)
    assert CMIDViT(**{**TINY, 'patch_size': 8}).out_stride == 8


def test_forward_with_cls_returns_the_stock_cls_token_and_the_same_maps():
    net, stock = _pair()
    cls_stock = VisionTransformer(**TINY, out_type='cls_token')
    cls_stock.load_state_dict(stock.state_dict())
    cls_stock.eval()
    with torch.no_grad():
        net.mask_token.normal_()
    x = torch.randn(2, 3, 64, 64)
    maps, cls = net.forward_with_cls(x)
    assert torch.allclose(maps[0], stock(x)[0], atol=1e-6)
    assert cls.shape == (2, 32) and torch.allclose(cls, cls_stock(x)[0], atol=1e-6)
    mask = torch.zeros(2, 4, 4)
    mask[:, 1:3, 1:3] = 1
    maps_m, cls_m = net.forward_with_cls(x, mask)
    assert torch.allclose(maps_m[0], net(x, mask)[0], atol=1e-6)
    assert not torch.allclose(cls_m, cls, atol=1e-3)  # the CLS token sees the mask


def test_global_feature_is_checked_at_build():
    with pytest.raises(ValueError, match=r"model.backbone.global_feature must be one of "
                                         r"\('pool', 'cls'\), got 'mean'"):
        CMIDViT(**TINY, global_feature='mean')
    with pytest.raises(ValueError, match=r"global_feature='cls' needs "
                                         r'model.backbone.with_cls_token=True'):
        CMIDViT(**TINY, global_feature='cls', with_cls_token=False)
    assert CMIDViT(**TINY).global_feature == 'pool'
