"""cmid_mm.export.layout: the key layouts of the stock ResNet / Swin classes of
mmpretrain, mmseg and mmdet, checked against the installed packages (keys,
shapes, buffers) and functionally: a Swin moved from mmpretrain's layout to
mmseg's / mmdet's gives the same stage outputs for the same input.
"""
from __future__ import annotations

import pytest
import torch

from cmid_mm.export import keys as bk
from cmid_mm.export import layout as bl

TINY_SWIN = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])


@pytest.mark.parametrize('depth', [18, 50])
def test_resnet_layout_is_identical_across_packages(depth):
    spec = bl.BackboneSpec('ResNet', dict(depth=depth))
    ref = bl.build_stock(spec, 'mmpretrain').state_dict()
    for package in ('mmseg', 'mmdet'):
        other = bl.build_stock(spec, package).state_dict()
        assert list(other) == list(ref)
        assert all(other[k].shape == ref[k].shape for k in ref)
    assert bl.infer_spec(ref).params['depth'] == depth


def test_swin_layout_differs_only_by_output_norms():
    spec = bl.BackboneSpec('SwinTransformer', dict(
        **TINY_SWIN, window_size=7, patch_size=4, in_channels=3, out_indices=(3, )))
    pre = bl.build_stock(spec, 'mmpretrain').state_dict()
    assert not any(k.startswith(('norm0', 'norm1', 'norm2')) for k in pre)
    for package in ('mmseg', 'mmdet'):
        other = bl.build_stock(spec, package).state_dict()
        extra = sorted(set(other) - set(pre))
        assert extra == [f'norm{i}.{p}' for i in range(3) for p in ('bias', 'weight')]
        assert set(pre) <= set(other)
        assert all(other[k].shape == pre[k].shape for k in pre)
        # the relative position index buffers are computed identically
        idx = [k for k in pre if k.endswith('relative_position_index')]
        assert len(idx) == 8 and all(torch.equal(pre[k], other[k]) for k in idx)


def _swin_pair(package):
    """Seeded mmpretrain Swin (all four output norms) and the package's Swin."""
    from mmpretrain.models.backbones import SwinTransformer
    torch.manual_seed(0)
    src = SwinTransformer(arch=TINY_SWIN, window_size=2, out_indices=(0, 1, 2, 3),
                          pad_small_map=True)
    src.eval()  # (mmpretrain's Swin.train() returns None, so no chaining)
    # non-trivial norms and tables: random instead of the constant init
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    spec = bl.infer_spec(src.state_dict())
    dst = bl.build_stock(spec, package)
    dst.eval()
    return src, spec, dst


@pytest.mark.parametrize('package', ['mmseg', 'mmdet'])
def test_swin_conversion_gives_the_same_stage_outputs(package):
    src, spec, dst = _swin_pair(package)
    assert spec.params['window_size'] == 2 and spec.params['out_indices'] == (0, 1, 2, 3)
    converted, added, removed = bl.to_target_layout(src.state_dict(), spec, package)
    assert added == [] and removed == []
    assert bk.compare_with_module(converted, dst).ok
    dst.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = src(x), dst(x)
    assert len(a) == len(b) == 4
    for i, (u, v) in enumerate(zip(a, b)):
        assert u.shape == v.shape == (1, 16 * 2**i, 16 // 2**i, 16 // 2**i)
        torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-5)


def test_swin_cmid_weights_add_identity_output_norms():
    """A CMID Swin keeps only norm3; stages 0-2 get LayerNorm's initial values and
    the last stage output is unchanged by the move."""
    src, spec, dst = _swin_pair('mmseg')
    state = {k: v for k, v in src.state_dict().items()
             if not k.startswith(('norm0.', 'norm1.', 'norm2.'))}
    spec = bl.infer_spec(state)
    converted, added, _ = bl.to_target_layout(state, spec, 'mmseg')
    assert added == [f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')]
    assert torch.equal(converted['norm1.weight'], torch.ones(32))
    assert torch.equal(converted['norm1.bias'], torch.zeros(32))
    dst.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(src(x)[3], dst(x)[3], rtol=1e-5, atol=1e-5)


def test_swin_to_mmpretrain_leaves_out_extra_output_norms():
    """mmpretrain's classifier Swin has norm3 only; norms of stages 0-2 are left out."""
    src, spec, _ = _swin_pair('mmseg')
    converted, added, removed = bl.to_target_layout(src.state_dict(), spec, 'mmpretrain')
    assert added == [] and removed == [f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')]
    assert bk.compare_with_module(converted, bl.build_stock(spec, 'mmpretrain')).ok
