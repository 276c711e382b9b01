"""The CMID algorithm: losses, gradients, teacher EMA, queue, data preprocessor."""
import math

import numpy as np
import pytest
import torch
from conftest import make_cmid_batch as _batch
from conftest import tiny_cmid_cfg
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS


@pytest.fixture
def model_and_batch(pretrain_tiles, tiny_model_cfg):
    torch.manual_seed(0)
    MessageHub.get_current_instance().update_info('max_iters', 100)
    model = MODELS.build(tiny_model_cfg)
    model.init_weights()
    files = sorted(pretrain_tiles.glob('*.png'))[:4]
    return model, _batch(files)


def test_preprocessor_masks_with_per_image_channel_mean(model_and_batch):
    model, batch = model_and_batch
    data = model.data_preprocessor(batch, training=True)
    inp = data['inputs']
    assert set(inp) == {'img', 'masked_img', 'mask', 'grid'}
    img, masked, mask = inp['img'][0], inp['masked_img'][0], inp['mask'][0]
    assert img.shape == (4, 3, 64, 64) and mask.shape == (4, 16, 16)
    assert inp['grid'][1].shape == (4, 4, 2)
    pix = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1).bool()
    mean = img.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(masked, torch.where(pix, mean.expand_as(img), img))
    # normalisation with the reference's MillionAID statistics (0..255 scale)
    raw = batch['inputs'][0][0].float()
    std = torch.tensor([34.65, 34.48, 35.88]).view(3, 1, 1)
    assert torch.allclose(img[0], (raw - torch.tensor([86.18, 91.93, 85.37]).view(3, 1, 1)) / std,
                          atol=1e-5)


def test_loss_terms_finite_and_gradients_reach_the_right_parameters(model_and_batch):
    model, batch = model_and_batch
    model.train()
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_rec', 'loss_global', 'loss_local'}
    for k, v in losses.items():
        assert v.ndim == 0 and torch.isfinite(v), k
    # CE over 1 positive + 64 random-queue negatives, logits in [-5, 5]
    assert 0.0 < losses['loss_global'].item() < math.log(1 + 64 * math.exp(10))
    # cross-entropy against a 128-way teacher distribution is at most ~log(128) + spread
    assert 0.0 < losses['loss_local'].item() < 2 * math.log(128)
    sum(losses.values()).backward()
    for name in ('backbone.mask_token', 'backbone.conv1.weight', 'backbone.layer4.1.conv2.weight',
                 'neck.decoder.0.weight', 'projector.mlp.0.weight', 'projector.mlp.2.weight',
                 'local_head.mlp.0.weight',
                 'local_head.last_layer.parametrizations.weight.original1'):
        p = dict(model.named_parameters())[name]
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in model.teacher.named_parameters():
        assert not p.requires_grad and p.grad is None, name
    # weight_g of the local head's last layer stays fixed at 1
    assert not model.local_head.last_layer.parametrizations.weight.original0.requires_grad


def test_teacher_changes_only_by_ema(model_and_batch):
    model, batch = model_and_batch
    data = model.data_preprocessor(batch, training=True)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    t_key = 'module.backbone.layer1.0.conv1.weight'
    s_key = 'backbone.layer1.0.conv1.weight'
    for _ in range(2):
        opt.zero_grad()
        sum(model(**data, mode='loss').values()).backward()
        opt.step()
    teacher_before = dict(model.teacher.named_parameters())[t_key].clone()
    student = dict(model.named_parameters())[s_key].detach().clone()
    assert not torch.allclose(teacher_before, student)  # the student moved away
    steps = int(model.teacher.steps)
    model(**data, mode='loss')  # the next step first averages the teacher
    m = model.teacher.momentum  # CosineEMA: m(k) = 0.004 * (cos(pi k / K) + 1) / 2
    m_k = m * (np.cos(np.pi * steps / 100) + 1) / 2
    expected = teacher_before * (1 - m_k) + student * m_k
    assert torch.allclose(dict(model.teacher.named_parameters())[t_key], expected, atol=1e-6)


def test_queue_holds_teacher_keys_of_both_views(model_and_batch):
    model, batch = model_and_batch
    data = model.data_preprocessor(batch, training=True)
    assert int(model.queue_ptr) == 0
    model(**data, mode='loss')
    assert int(model.queue_ptr) == 8  # 2 views x batch 4
    keys = model.queue[:, :8].T
    assert torch.allclose(keys.norm(dim=1), torch.ones(8), atol=1e-5)
    # wrap-around: 8 more steps of 8 keys on a queue of 64 come back to 0
    for _ in range(7):
        model(**data, mode='loss')
    assert int(model.queue_ptr) == 0


def test_byol_variant_builds_and_runs(pretrain_tiles):
    cfg = tiny_cmid_cfg(
        global_mode='byol',
        projector=dict(type='NonLinearNeck', in_channels=512, hid_channels=64, out_channels=32,
                       num_layers=2, with_avg_pool=True),
        global_head=dict(type='LatentPredictHead',
                         loss=dict(type='CosineSimilarityLoss', shift_factor=2.0,
                                   scale_factor=2.0),
                         predictor=dict(type='NonLinearNeck', in_channels=32, hid_channels=64,
                                        out_channels=32, num_layers=2, with_avg_pool=False)))
    MessageHub.get_current_instance().update_info('max_iters', 10)
    model = MODELS.build(cfg)
    assert not hasattr(model, 'queue')
    batch = _batch(sorted(pretrain_tiles.glob('*.png'))[:4])
    losses = model(**model.data_preprocessor(batch, training=True), mode='loss')
    assert 0.0 <= losses['loss_global'].item() <= 4.0  # 2 - 2 cos in [0, 4]


def test_grid_and_feature_mismatch_is_reported(model_and_batch):
    model, batch = model_and_batch
    data = model.data_preprocessor(batch, training=True)
    data['inputs']['grid'] = [g[:, :3] for g in data['inputs']['grid']]
    with pytest.raises(ValueError, match='grid_size'):
        model(**data, mode='loss')


def test_swin_teacher_runs_without_stochastic_depth():
    cfg = tiny_cmid_cfg(
        backbone=dict(type='CMIDSwinTransformer', arch='T', img_size=64, drop_path_rate=0.5,
                      out_indices=(3, ), pad_small_map=True),
        neck=dict(type='CMIDLinearDecoder', in_channels=768, encoder_stride=32))
    cfg['projector']['in_channels'] = 768
    cfg['local_head'].update(in_channels=768, use_bn=False)
    model = MODELS.build(cfg)
    student = [m.drop_prob for m in model.backbone.modules() if hasattr(m, 'drop_prob')]
    teacher = [m.drop_prob for m in model.teacher.module.backbone.modules()
               if hasattr(m, 'drop_prob')]
    assert len(teacher) == len(student) > 0 and max(student) == pytest.approx(0.5)
    assert all(p == 0. for p in teacher)
    model.train()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.teacher.module.backbone(x)[0], model.teacher.module.backbone(x)[0])
