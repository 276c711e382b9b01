"""A CMIDViT backbone exported into stock mmpretrain and mmseg VisionTransformer."""
from __future__ import annotations

import pytest
import torch

from cmid_mm.export import layout as bl
from cmid_mm.export.keys import compare_with_module
from cmid_mm.export.writer import export_backbone
from cmid_mm.models import CMIDViT

ARCH = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)


@pytest.fixture
def student():
    torch.manual_seed(0)
    net = CMIDViT(arch=ARCH, img_size=64, patch_size=16)
    net.init_weights()
    with torch.no_grad():  # non-trivial everywhere (norms, biases, pos_embed)
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    net.eval()
    return net


def _weights(net):
    return {k: v for k, v in net.state_dict().items() if k != 'mask_token'}


def test_spec_of_the_student(student):
    spec = bl.infer_spec(_weights(student))
    assert spec.kind == 'VisionTransformer'
    assert spec.params == dict(embed_dims=32, num_layers=4, num_heads=1,  # 32 // 64 -> 1
                               feedforward_channels=64, patch_size=16, in_channels=3,
                               img_size=64, with_cls_token=True, final_norm=True,
                               qkv_bias=True)


@pytest.mark.parametrize('package', ['mmpretrain', 'mmseg'])
def test_export_loads_with_zero_missing_keys_and_same_features(student, package):
    w = _weights(student)
    spec = bl.infer_spec(w)
    spec.params['num_heads'] = 2  # from the config in a real export
    moved, added, removed = bl.to_target_layout(w, spec, package)
    assert added == removed == []
    stock = bl.build_stock(spec, package)
    assert compare_with_module(moved, stock).ok
    res = stock.load_state_dict(moved, strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    sd = stock.state_dict()
    assert all(torch.equal(sd[k], v) for k, v in moved.items())
    if package == 'mmseg':
        assert 'layers.0.attn.attn.in_proj_weight' in moved
        assert torch.equal(moved['layers.3.attn.attn.out_proj.weight'],
                           w['layers.3.attn.proj.weight'])
        stock.out_indices = [3]
    else:
        stock.out_type = 'featmap'
    stock.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = student(x)[0]
        got = stock(x)[-1]
    assert got.shape == ref.shape == (2, 32, 4, 4)
    assert torch.allclose(got, ref, atol=1e-5)


def test_other_input_size_resizes_pos_embed_as_the_stock_classes_do(student, tmp_path):
    w = _weights(student)
    spec = bl.infer_spec(w)
    spec.params['num_heads'] = 2
    # mmpretrain: the stock class's load hook interpolates the 4x4 grid to 6x6
    big = bl.BackboneSpec(spec.kind, {**spec.params, 'img_size': 96})
    stock = bl.build_stock(big, 'mmpretrain')
    stock.load_state_dict(w)
    assert stock.pos_embed.shape == (1, 37, 32)
    assert torch.equal(stock.pos_embed[:, 0], w['pos_embed'][:, 0])  # CLS position kept
    # mmseg: a Pretrained checkpoint without prefix, resized by init_weights
    dst = tmp_path / 'vit_mmseg.pth'
    assert export_backbone(w, spec, 'mmseg', dst, meta={}, prefix='').ok
    from mmseg.models.backbones import VisionTransformer
    kw = bl.stock_kwargs(big, 'mmseg')
    seg = VisionTransformer(**kw, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    seg.init_weights()
    assert seg.pos_embed.shape == (1, 37, 32)
    assert torch.equal(seg.layers[1].attn.attn.in_proj_weight, w['layers.1.attn.qkv.weight'])


def test_vit_to_mmdet_is_refused(student):
    spec = bl.infer_spec(_weights(student))
    with pytest.raises(bl.ConversionError, match='no stock ViT backbone in mmdet'):
        bl.build_stock(spec, 'mmdet')


@pytest.mark.parametrize('package', ['mmpretrain', 'mmseg'])
def test_extract_from_a_cmid_vit_checkpoint(tmp_path, package):
    from mmpretrain.models import VisionTransformer as PreViT
    from mmseg.models.backbones import VisionTransformer as SegViT

    from cmid_mm.export.cmid_checkpoint import extract
    from tests.helpers import write_cmid_checkpoint
    src, student = write_cmid_checkpoint(tmp_path / 'cmid_vit.pth', 'vit', arch=ARCH,
                                         img_size=64)
    dst = tmp_path / f'{package}.pth'
    assert extract(src, dst, target=package, prefix='').ok
    out = torch.load(dst, map_location='cpu', weights_only=True)
    kwargs = out['meta']['cmid_export']['backbone_kwargs']
    heads = kwargs['arch']['num_heads'] if package == 'mmpretrain' else kwargs['num_heads']
    assert heads == 2  # from the run's config, not the embed_dims // 64 guess
    cls = PreViT if package == 'mmpretrain' else SegViT
    if package == 'mmseg':
        kwargs['norm_cfg'] = dict(kwargs['norm_cfg'])
    stock = cls(**kwargs)
    res = stock.load_state_dict(out['state_dict'], strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    w = _weights(student)
    moved, _, _ = bl.to_target_layout(w, bl.infer_spec(w), package)
    assert all(torch.equal(stock.state_dict()[k], v) for k, v in moved.items())
