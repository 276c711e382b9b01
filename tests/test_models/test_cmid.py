"""The CMID algorithm: losses, gradients, teacher EMA and BN, queue, skip mode."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS

from cmid_mm.engine.optim_wrapper import SkipNonFiniteOptimWrapper
from tests.helpers import REPO, make_cmid_batch, tiny_cmid_cfg

BASE_MODEL = REPO / 'configs/cmid/_base_/models/cmid_resnet50.py'


def _build(cfg: dict, max_iters: int = 100):
    torch.manual_seed(0)
    MessageHub.get_current_instance().update_info('max_iters', max_iters)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.fixture
def files(pretrain_tiles):
    return sorted(pretrain_tiles.glob('*.png'))[:8]


@pytest.fixture
def model_and_data(files, tiny_model_cfg):
    model = _build(tiny_model_cfg)
    return model, model.data_preprocessor(make_cmid_batch(files[:4]), training=True)


def test_preprocessor_masks_with_per_image_channel_mean(files, tiny_model_cfg):
    model = _build(tiny_model_cfg)
    batch = make_cmid_batch(files[:4])
    inp = model.data_preprocessor(batch, training=True)['inputs']
    assert set(inp) == {'img', 'masked_img', 'mask', 'grid'}
    img, masked, mask = inp['img'][0], inp['masked_img'][0], inp['mask'][0]
    assert img.shape == (4, 3, 64, 64) and mask.shape == (4, 16, 16)
    assert inp['grid'][1].shape == (4, 4, 2)
    pix = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1).bool()
    mean = img.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(masked, torch.where(pix, mean.expand_as(img), img))
    # normalisation with the reference's MillionAID statistics (0..255 scale)
    raw = batch['inputs'][0][0].float()
    mean = torch.tensor([86.182, 91.928, 85.374]).view(3, 1, 1)
    std = torch.tensor([34.655, 34.476, 35.879]).view(3, 1, 1)
    assert torch.allclose(img[0], (raw - mean) / std,
                          atol=1e-5)


def test_loss_terms_and_gradients_reach_the_right_parameters(model_and_data):
    model, data = model_and_data
    first = model(**data, mode='loss')
    # the queue starts empty: the first contrast has no negatives, CE of one logit = 0
    assert first['loss_global'].item() == 0.0
    losses = model(**data, mode='loss')  # 8 real negatives now
    assert set(losses) == {'loss_rec', 'loss_global', 'loss_local'}
    # CE over 1 positive + 8 negatives with cosine logits / 0.2 in [-5, 5]
    assert 0.0 < losses['loss_global'].item() < math.log(1 + 8 * math.exp(10))
    # cross-entropy against a 128-way teacher distribution is at most ~log(128) + spread
    assert 0.0 < losses['loss_local'].item() < 2 * math.log(128)
    sum(losses.values()).backward()
    # zero-initialised residual BN: at first only the block's last BN weight gets a gradient
    for name in ('backbone.mask_token', 'backbone.conv1.weight', 'backbone.layer4.1.bn2.weight',
                 'neck.decoder.0.weight', 'projector.mlp.0.weight', 'projector.mlp.2.weight',
                 'local_head.mlp.0.weight',
                 'local_head.last_layer.parametrizations.weight.original1'):
        p = dict(model.named_parameters())[name]
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in model.teacher.named_parameters():
        assert not p.requires_grad and p.grad is None, name
    # weight_g of the local head's last layer stays fixed at 1
    assert not model.local_head.last_layer.parametrizations.weight.original0.requires_grad


def test_non_finite_check_is_one_isfinite_for_all_terms(model_and_data, monkeypatch):
    model, data = model_and_data
    calls = []
    isfinite = torch.isfinite
    monkeypatch.setattr(torch, 'isfinite', lambda x: (calls.append(x.shape), isfinite(x))[1])
    model(**data, mode='loss')
    assert calls == [torch.Size([3])]  # one stacked check, then one .item()


def test_teacher_moves_towards_the_student_by_the_reference_rate(files):
    """The shipped teacher config means teacher momentum 0.996 -> 1 (student weight 0.004)."""
    teacher_cfg = Config.fromfile(str(BASE_MODEL)).model.teacher.to_dict()
    model = _build(tiny_cmid_cfg(teacher=teacher_cfg), max_iters=100)
    data = model.data_preprocessor(make_cmid_batch(files[:4]), training=True)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    t_key, s_key = 'module.backbone.conv1.weight', 'backbone.conv1.weight'
    for _ in range(2):
        opt.zero_grad()
        sum(model(**data, mode='loss').values()).backward()
        opt.step()
    teacher_before = dict(model.teacher.named_parameters())[t_key].clone()
    student = dict(model.named_parameters())[s_key].detach().clone()
    assert not torch.allclose(teacher_before, student)  # the student moved away
    assert int(model.teacher.steps) == 2
    model(**data, mode='loss')  # the next step first averages the teacher (its 3rd update)
    rate = 0.004 * (np.cos(np.pi * 2 / 100) + 1) / 2  # 1 - 0.996, cosine to 0 over 100 iters
    teacher_after = dict(model.teacher.named_parameters())[t_key]
    assert torch.allclose(teacher_after, teacher_before + rate * (student - teacher_before),
                          atol=1e-7)
    assert (teacher_after - student).norm() < (teacher_before - student).norm()


def test_teacher_momentum_in_the_wrong_convention_is_refused():
    with pytest.raises(ValueError, match=r'model.teacher.momentum must be in \(0, 0.5\], got '
                                         r'0.996.*looks like the teacher momentum itself'):
        MODELS.build(tiny_cmid_cfg(teacher=dict(type='CosineEMA', momentum=0.996)))


def test_queue_holds_the_teacher_keys_of_the_batch_at_the_pointer(model_and_data):
    model, data = model_and_data
    head = model.global_head
    head.queue_ptr[0] = 60  # 8 keys into a 64-slot queue: slots 60..63 and 0..3
    model(**data, mode='loss')
    teacher = model.teacher.module  # its parameters are the ones this step used
    with torch.no_grad():
        keys = [F.normalize(teacher.projector([teacher.backbone(x)[-1]])[0], dim=1)
                for x in data['inputs']['img']]
    slots = [60, 61, 62, 63, 0, 1, 2, 3]
    assert torch.allclose(head.queue[:, slots].T, torch.cat(keys), atol=1e-5)  # A then B
    assert torch.equal(head.queue[:, 4:60], torch.zeros(32, 56))  # nothing else written
    assert int(head.queue_ptr) == 4


def test_teacher_keeps_its_own_batchnorm_statistics(files, model_and_data):
    model, data = model_and_data
    data2 = model.data_preprocessor(make_cmid_batch(files[4:8], seed=1), training=True)
    model(**data, mode='loss')
    bn = [k for k in model.teacher.module.backbone.state_dict() if 'running_' in k]
    own_before = {k: v.clone() for k, v in model.teacher.module.backbone.state_dict().items()
                  if k in bn}
    model(**data2, mode='loss')
    # replay: the teacher (as used in step 2) from its own statistics, over the two clean views
    replica = copy.deepcopy(model.teacher.module.backbone)
    replica.load_state_dict({**replica.state_dict(), **own_before})
    with torch.no_grad():
        for x in data2['inputs']['img']:
            replica(x)
    teacher_bn = model.teacher.module.backbone.state_dict()
    student_bn = model.backbone.state_dict()
    for k in bn:
        assert torch.allclose(teacher_bn[k], replica.state_dict()[k], atol=1e-6), k
    assert not torch.allclose(teacher_bn['bn1.running_mean'], student_bn['bn1.running_mean'])


def _step(model, data, wrapper):
    losses = model(**data, mode='loss')
    wrapper.update_params(model.parse_losses(losses)[0])
    return losses


def _with_nan(data):
    bad = dict(data, inputs={k: [v.clone() for v in vs] for k, vs in data['inputs'].items()})
    for key in ('img', 'masked_img'):
        bad['inputs'][key][0][0, 0, :8, :8] = float('nan')  # a no-data patch in one tile
    return bad


def test_skip_mode_a_nan_batch_changes_no_state(files):
    """[good, NaN, good] ends in exactly the state of [good, good]."""
    batches = [make_cmid_batch(files[:4]), make_cmid_batch(files[4:8], seed=1)]
    states = []
    for insert_nan in (False, True):
        model = _build(tiny_cmid_cfg(nonfinite_loss='skip'))
        wrapper = SkipNonFiniteOptimWrapper(torch.optim.SGD(
            [p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9))
        good = [model.data_preprocessor(b, training=True) for b in batches]
        _step(model, good[0], wrapper)
        if insert_nan:
            losses = _step(model, _with_nan(good[0]), wrapper)
            assert not all(torch.isfinite(v) for v in losses.values())
            assert wrapper.skipped_steps == 1
        _step(model, good[1], wrapper)
        states.append(model.state_dict())
    clean, skipped = states
    for k in clean:  # queue, center, BN of student and teacher, teacher EMA, weights
        assert torch.equal(clean[k], skipped[k]), k
    assert clean['global_head.queue'].abs().sum() > 0 and clean['local_loss.center'].abs().sum() > 0


def test_skip_mode_needs_the_skip_optim_wrapper(files):
    model = _build(tiny_cmid_cfg(nonfinite_loss='skip'))
    plain = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                                         lr=0.1))
    with pytest.raises(ValueError, match=r"nonfinite_loss='skip' needs optim_wrapper.type="
                                         r"'SkipNonFiniteOptimWrapper' \(or 'AmpOptimWrapper'\), "
                                         r"got OptimWrapper"):
        model.train_step(make_cmid_batch(files[:2]), plain)


def test_raise_mode_names_the_term(model_and_data, monkeypatch):
    model, data = model_and_data
    monkeypatch.setattr(model.local_head, 'forward', lambda x: torch.full(
        (x.shape[0], 128, x.shape[2]), float('nan')))
    with pytest.raises(FloatingPointError, match=r'loss_local=nan'):
        model(**data, mode='loss')


def test_byol_variant_is_a_configured_head(files):
    cfg = tiny_cmid_cfg(
        projector=dict(type='NonLinearNeck', in_channels=512, hid_channels=64, out_channels=32,
                       num_layers=2, with_avg_pool=True),
        global_head=dict(type='CMIDBYOLHead',
                         predictor=dict(type='NonLinearNeck', in_channels=32, hid_channels=64,
                                        out_channels=32, num_layers=2, with_avg_pool=False)))
    model = _build(cfg, max_iters=10)
    assert not any('queue' in k for k in model.state_dict())
    data = model.data_preprocessor(make_cmid_batch(files[:4]), training=True)
    losses = model(**data, mode='loss')
    assert 0.0 < losses['loss_global'].item() <= 4.0  # 2 - 2 cos in [0, 4]
    losses['loss_global'].backward()
    assert model.global_head.predictor.fc0.weight.grad.abs().sum() > 0


def test_grid_and_match_errors(model_and_data):
    model, data = model_and_data
    short = dict(data, inputs=dict(data['inputs'], grid=[g[:, :3] for g in data['inputs']['grid']]))
    with pytest.raises(ValueError, match='grid_size'):
        model(**short, mode='loss')
    model.num_matches = 5
    with pytest.raises(ValueError, match='model.num_matches=5 exceeds the 4 positions'):
        model(**data, mode='loss')


def test_legacy_checkpoint_queue_keys_load_into_the_head(model_and_data):
    model, _ = model_and_data
    state = model.state_dict()
    state['queue'] = torch.ones_like(state.pop('global_head.queue'))
    state['queue_ptr'] = torch.tensor([5])
    del state['global_head.queue_ptr']
    model.load_state_dict(state)
    assert torch.equal(model.global_head.queue, torch.ones(32, 64))
    assert int(model.global_head.queue_ptr) == 5


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
