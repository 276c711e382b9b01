"""The CMID students' keys (mmpretrain ResNet / SwinTransformer) load into mmseg's backbones."""
from __future__ import annotations

import pytest
import torch
from mmpretrain.models import ResNet as PretrainResNet
from mmpretrain.models import SwinTransformer as PretrainSwin
from mmseg.models.backbones import ResNet, ResNetV1c, SwinTransformer


def _shapes(module: torch.nn.Module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_resnet50_keys_match_mmseg_resnet_not_v1c():
    cmid = _shapes(PretrainResNet(depth=50))
    plain = _shapes(ResNet(depth=50))
    v1c = _shapes(ResNetV1c(depth=50))
    assert cmid == plain  # key for key, shape for shape
    assert not set(v1c) <= set(cmid)  # the deep stem of V1c would stay uninitialised


def test_swin_b_keys_match_mmseg_swin_b():
    """All of mmseg Swin-B's weights exist in the CMID Swin-B, except the out norms 0-2."""
    cmid = _shapes(PretrainSwin(arch='base', out_indices=(3, )))
    seg = _shapes(SwinTransformer(embed_dims=128, depths=(2, 2, 18, 2),
                                  num_heads=(4, 8, 16, 32), window_size=7,
                                  out_indices=(0, 1, 2, 3)))
    missing = {k.split('.')[0] for k in set(seg) - set(cmid)}
    assert missing == {'norm0', 'norm1', 'norm2'}  # per-level LayerNorms of the dense head
    assert all(cmid[k] == seg[k] for k in seg if k in cmid)
    assert set(cmid) - set(seg) == set()


@pytest.mark.parametrize('exported', [True, False], ids=['exported', 'full-training-ckpt'])
def test_cmid_swin_checkpoint_loads_into_mmseg_swin(tmp_path, cmid_checkpoint_factory, exported):
    """mmseg Swin's own loader (used by the Swin configs) strips ``backbone.`` and skips the
    teacher / head keys of a full training checkpoint; the student's values arrive."""
    arch = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])
    path = tmp_path / 'cmid_swin_full.pth'
    state = cmid_checkpoint_factory(path, PretrainSwin(arch=arch, out_indices=(3, )),
                                    stem_channels=32)
    if exported:
        path = tmp_path / 'cmid_swin_backbone.pth'
        torch.save(dict(state_dict={k: v for k, v in state.items()
                                    if k.startswith('backbone.')}), path)
    swin = SwinTransformer(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8),
                           out_indices=(0, 1, 2, 3),
                           init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                         prefix='backbone.'))
    swin.init_weights()
    own = swin.state_dict()
    loaded = [k for k in own if f'backbone.{k}' in state]
    assert len(loaded) == len(own) - 6  # all but norm0/1/2 weight+bias
    for k in loaded:
        assert torch.equal(own[k], state[f'backbone.{k}']), k


@pytest.mark.parametrize('depth', [18, 50])
def test_resnet_prefix_init_skips_teacher_and_heads(tmp_path, cmid_checkpoint_factory, depth):
    path = tmp_path / f'cmid_r{depth}.pth'
    state = cmid_checkpoint_factory(path, PretrainResNet(depth=depth), stem_channels=64)
    net = ResNet(depth=depth, init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                            prefix='backbone.'))
    net.init_weights()
    own = net.state_dict()
    assert all(torch.equal(v, state[f'backbone.{k}']) for k, v in own.items())
