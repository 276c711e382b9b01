"""CMID with the ViT student: strides read from the backbone, build-time errors, training."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS, TRANSFORMS

from tests.helpers import REPO, make_cmid_batch, tiny_cmid_cfg

VIT_CFG = REPO / 'configs/cmid/cmid_vit-tiny-p16_1xb32-adan-20e_s2-tiles-128.py'


def _views_cfg() -> dict:
    cfg = Config.fromfile(str(VIT_CFG))
    return next(t for t in cfg.train_pipeline if t['type'] == 'CMIDMultiView').to_dict()


def _build(**overrides):
    torch.manual_seed(0)
    MessageHub.get_current_instance().update_info('max_iters', 100)
    model = MODELS.build(tiny_cmid_cfg(config=VIT_CFG, **overrides))
    model.init_weights()
    return model


def test_views_follow_the_output_stride():
    import cmid_mm  # noqa: F401
    views = TRANSFORMS.build(_views_cfg())
    assert views.grid_size == 128 // 16 and views.output_stride == 16
    bad = _views_cfg()
    bad['mask_generator']['mask_patch_size'] = 24  # not a multiple of the 16 px patch
    bad['crop_size'] = bad['mask_generator']['input_size'] = 96
    with pytest.raises(ValueError, match=r'mask_patch_size \(24\) must be a multiple of '
                                         r'model_patch_size, got model_patch_size=16'):
        TRANSFORMS.build(bad)
    bad = _views_cfg()
    bad['mask_generator']['model_patch_size'] = 32  # coarser than the ViT patch grid
    with pytest.raises(ValueError, match=r'model_patch_size \(32\) must divide the '
                                         r'CMIDMultiView output_stride \(16\)'):
        TRANSFORMS.build(bad)
    bad = _views_cfg()
    bad['crop_size'] = bad['mask_generator']['input_size'] = 136
    with pytest.raises(ValueError, match=r'crop_size must be a multiple of 16 \(output_stride'):
        TRANSFORMS.build(bad)


def test_build_errors_name_the_keys():
    with pytest.raises(ValueError, match=r'model.neck.encoder_stride=32 must equal the backbone '
                                         r'output stride 16 \(CMIDViT.out_stride'):
        cfg = tiny_cmid_cfg(config=VIT_CFG)
        cfg['neck']['encoder_stride'] = 32
        MODELS.build(cfg)
    with pytest.raises(ValueError, match=r'model.num_matches=65 exceeds the 64 positions of the '
                                         r'token grid \(8, 8\) \(model.backbone.img_size'):
        MODELS.build(tiny_cmid_cfg(config=VIT_CFG, num_matches=65))
    MODELS.build(tiny_cmid_cfg(config=VIT_CFG, num_matches=64))  # the bound itself is fine


def test_resnet_and_swin_keep_stride_32():
    from mmpretrain.registry import MODELS as M
    cfg = tiny_cmid_cfg()
    assert M.build(cfg).backbone.out_stride == 32
    cfg['neck']['encoder_stride'] = 16
    with pytest.raises(ValueError, match='encoder_stride=16 must equal'):
        M.build(cfg)


def test_tiny_vit_cmid_trains_on_real_tiles(pretrain_tiles):
    files = sorted(pretrain_tiles.glob('*.png'))[:4]
    model = _build(backbone=dict(Config.fromfile(str(VIT_CFG)).model.backbone.to_dict(),
                                 drop_path_rate=0.1))
    # the teacher runs without stochastic depth, the student keeps it
    assert all(m.drop_prob == 0 for m in model.teacher.module.modules()
               if hasattr(m, 'drop_prob'))
    assert any(m.drop_prob > 0 for m in model.backbone.modules() if hasattr(m, 'drop_prob'))
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = copy.deepcopy(model.backbone.state_dict())
    for step in range(3):
        batch = make_cmid_batch(files, crop_size=64, seed=step, config=VIT_CFG)
        data = model.data_preprocessor(batch, training=True)
        assert data['inputs']['mask'][0].shape == (4, 4, 4)  # patch resolution
        assert data['inputs']['grid'][0].shape == (4, 16, 2)  # 64 // 16 = 4 per side
        losses = model(**data, mode='loss')
        assert set(losses) == {'loss_rec', 'loss_global', 'loss_local'}
        assert all(torch.isfinite(v) for v in losses.values())
        wrapper.zero_grad()
        sum(losses.values()).backward()
        if step == 0:
            assert model.backbone.mask_token.grad.abs().sum() > 0
            for name in ('patch_embed.projection.weight', 'pos_embed', 'cls_token',
                         'layers.3.ffn.layers.1.weight'):
                grad = dict(model.backbone.named_parameters())[name].grad
                assert grad is not None and grad.abs().sum() > 0, name
        wrapper.step()
    after = model.backbone.state_dict()
    assert not torch.equal(before['layers.0.attn.qkv.weight'], after['layers.0.attn.qkv.weight'])


@pytest.mark.parametrize('name,channels', [
    ('cmid_vit-base-p16_4xb64-adan-200e_millionaid.py', 768),
    ('cmid_vit-small-p16_4xb64-adan-200e_millionaid.py', 384),
])
def test_paper_size_vit_configs_forward_backward_224(name, channels, pretrain_tiles):
    from mmengine.dataset import default_collate
    cfg = Config.fromfile(str(REPO / 'configs/cmid' / name))
    MessageHub.get_current_instance().update_info('max_iters', 1000)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.backbone.embed_dims == channels and model.backbone.out_stride == 16
    pipeline = [TRANSFORMS.build(t) for t in cfg.train_pipeline]
    samples = []
    for f in sorted(pretrain_tiles.glob('*.png'))[:2]:
        r = dict(img_path=str(f))
        for t in pipeline:
            r = t(r)
        samples.append(r)
    data = model.data_preprocessor(default_collate(samples), training=True)
    assert data['inputs']['grid'][0].shape == (2, 196, 2)  # 14 x 14 tokens
    assert data['inputs']['mask'][0].shape == (2, 14, 14)  # at patch resolution
    losses = model(**data, mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.mask_token.grad.abs().sum() > 0


@pytest.mark.parametrize('global_feature', ['pool', 'cls'])
def test_projector_input_follows_global_feature(global_feature, pretrain_tiles):
    """'cls': both projectors (student and EMA teacher) get the final CLS token of their own
    backbone (as a 1 x 1 map); 'pool': the patch map they average-pool, as ResNet / Swin."""
    files = sorted(pretrain_tiles.glob('*.png'))[:2]
    model = _build(backbone=dict(Config.fromfile(str(VIT_CFG)).model.backbone.to_dict(),
                                 global_feature=global_feature))
    data = model.data_preprocessor(make_cmid_batch(files, crop_size=64, seed=0,
                                                   config=VIT_CFG), training=True)
    seen = {'student': [], 'teacher': []}
    model.projector.register_forward_pre_hook(lambda m, a: seen['student'].append(a[0][0]))
    model.teacher.module.projector.register_forward_pre_hook(
        lambda m, a: seen['teacher'].append(a[0][0]))
    model(**data, mode='loss')
    inputs = data['inputs']
    with torch.no_grad():
        for i in range(2):
            s_maps, s_cls = model.backbone.forward_with_cls(inputs['masked_img'][i],
                                                            inputs['mask'][i])
            t_maps, t_cls = model.teacher.module.backbone.forward_with_cls(inputs['img'][i])
            want_s, want_t = ((s_cls[:, :, None, None], t_cls[:, :, None, None])
                              if global_feature == 'cls' else (s_maps[-1], t_maps[-1]))
            assert torch.allclose(seen['student'][i], want_s, atol=1e-5)
            assert torch.allclose(seen['teacher'][i], want_t, atol=1e-5)
