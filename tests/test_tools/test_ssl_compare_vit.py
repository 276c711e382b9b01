"""tools/benchmark/ssl_compare.py on the tiny ViT (``--backbones vit-tiny``): CMID-ViT, MAE and
MoCo v3, end to end on the micro setting.

One micro run (8 corpus tiles, batch 4, 12 steps at 96 px, seed 0, eval_frozen --micro on
s2_cls and cloud_seg, no ablations) pretrains the three methods through mmengine's Runner in
child processes and scores every backbone, random init and the colour baseline; the tests check
the rows, the size patches (position embedding, MAE decoder), the rules, and that the exported
backbones load into the one evaluation model.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

from cmid_mm.benchmark import METHODS
from cmid_mm.benchmark.run_config import vit_size_patch
from tools.benchmark import ssl_compare as sc

VIT = ('cmid', 'mae', 'mocov3')
SCORE_KEYS = {'s2_cls/knn', 's2_cls/linear', 'cloud_seg/miou'}  # the micro eval sets
TOKENS = (96 // 16) ** 2 + 1  # 6 x 6 patches + CLS at the CPU profile's 96 px


@pytest.fixture(scope='module')
def micro(tmp_path_factory, pretrain_tiles, s2_cls_root):
    work = tmp_path_factory.mktemp('ssl_vit_micro')
    results = sc.main(['--micro', '--backbones', 'vit-tiny', '--methods', *VIT, '--seeds', '0',
                       '--no-ablations', '--work-dir', str(work), '--out',
                       str(work / 'bench.md')])
    return results, work


def _build(cfg):
    from mmpretrain.registry import MODELS

    import cmid_mm.models  # noqa: F401 (registers CMIDViT)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_every_vit_row_has_scores(micro):
    results, work = micro
    assert not any(r.get('error') or r.get('skipped') for r in results['rows'])
    summary = {e['run']: e for e in results['summary']}
    assert set(summary) == {'colour', 'random', *VIT}
    for run, e in summary.items():
        assert e['backbone'] == 'ViT-T/16 (4 layers)'
        assert set(e['scores']) == SCORE_KEYS, run
        assert all(0. <= s['mean'] <= 100. and math.isfinite(s['mean'])
                   for s in e['scores'].values()), run
    for r in results['rows']:
        if r['run'] in VIT:
            assert r['steps'] == 12 and r['s_per_step'] > 0, r['run']
            assert r['bn_recalib'] is None, r['run']  # a ViT has no BatchNorm to recalibrate
    # the width is the ResNet's: not applied, not printed
    assert results['settings']['width'] is None
    text = (work / 'bench.md').read_text()
    start, end = sc.markers('cpu-vit-tiny')  # its own section: the ResNet table stays
    assert text.count(start) == 1 and text.count(end) == 1
    assert sc.markers('cpu')[0] not in text
    assert 'width' not in text.split('Pretraining:')[1].split('px')[0]
    assert 'none for ViT-T/16 (4 layers), which has no BatchNorm' in text
    assert '| MAE | ViT-T/16 (4 layers) |' in text and '| MoCo v3 | ViT-T/16 (4 layers) |' in text


def test_vit_runs_follow_the_crop_size_and_their_rules(micro):
    results, work = micro
    cfgs = {m: Config.fromfile(str(work / 'vit-tiny' / m / 'seed0' / 'config.py')) for m in VIT}
    assert {m: c.model.type for m, c in cfgs.items()} == {
        'cmid': 'CMID', 'mae': 'MAE', 'mocov3': 'MoCoV3'}
    assert {m: c.model.backbone.type for m, c in cfgs.items()} == {
        'cmid': 'CMIDViT', 'mae': 'MAEViT', 'mocov3': 'MoCoV3ViT'}
    for m, c in cfgs.items():
        assert c.model.backbone.img_size == 96, m
        assert c.model.backbone.arch == dict(embed_dims=192, num_layers=4, num_heads=3,
                                             feedforward_channels=768), m
        assert c.train_dataloader.batch_size == 4 and c.optim_wrapper.optimizer.type == 'Adan'
    assert cfgs['mae'].model.neck.num_patches == 36 and cfgs['mae'].model.backbone.mask_ratio == .75
    assert cfgs['mae'].train_dataloader.dataset.pipeline[1].scale == 96
    views = cfgs['mocov3'].train_dataloader.dataset.pipeline[1].transforms
    assert [v[0].scale for v in views] == [96, 96]
    cm = cfgs['cmid'].train_dataloader.dataset.pipeline[-2]
    assert cm.crop_size == 96 and cm.mask_generator.input_size == 96
    assert cfgs['mocov3'].model.base_momentum == 0.5  # max(0.01, 6 / 12)
    assert cfgs['mocov3'].optim_wrapper.optimizer.foreach is False
    assert 'foreach' not in cfgs['mae'].optim_wrapper.optimizer
    assert results['settings']['rules']['mae'] == {}
    # the trained models are the size of the run: 6 x 6 tokens + CLS
    for m in VIT:
        model = _build(cfgs[m])
        assert tuple(model.backbone.pos_embed.shape) == (1, TOKENS, 192), m


def test_exports_load_into_the_eval_model(micro):
    """MAEViT's and MoCoV3ViT's keys are VisionTransformer's: zero unexpected keys in the
    CMIDViT evaluation model, only its mask_token missing, every tensor loaded as saved."""
    from mmpretrain.models import VisionTransformer
    _, work = micro
    cfg = Config.fromfile(str(work / 'vit-tiny' / 'eval_config.py'))
    net = _build(cfg).backbone
    assert tuple(net.pos_embed.shape) == (1, TOKENS, 192)
    stock = VisionTransformer(arch=cfg.model.backbone.arch, img_size=96, patch_size=16)
    for m in VIT:
        state = torch.load(work / 'vit-tiny' / m / 'seed0' / 'backbone.pth', weights_only=True)
        assert tuple(state['pos_embed'].shape) == (1, TOKENS, 192), m
        missing, unexpected = net.load_state_dict(state, strict=False)
        assert unexpected == [] and missing == ([] if m == 'cmid' else ['mask_token']), m
        loaded = net.state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in state.items()), m
        assert set(stock.state_dict()) == set(state) - {'mask_token'}, m


def test_vit_configs_build_as_shipped():
    """The MAE and MoCo v3 configs build as tools/train.py would (128 px: 8 x 8 tokens)."""
    for m in ('mae', 'mocov3'):
        cfg = Config.fromfile(str(METHODS[m].config('vit-tiny')))
        assert cfg.train_dataloader.dataset.type == 'CustomDataset'
        assert cfg.data_preprocessor.to_rgb is False
        model = _build(cfg)
        assert tuple(model.backbone.pos_embed.shape) == (1, 65, 192), m
        x = torch.rand(2, 3, 128, 128)
        views = [x, x.flip(-1)] if m == 'mocov3' else x  # MoCoV3: two views; MAE: images
        losses = model.loss(views, [DataSample() for _ in range(2)])
        assert all(torch.isfinite(v) for v in losses.values()), m
    mae = _build(Config.fromfile(str(METHODS['mae'].config('vit-tiny'))))
    assert tuple(mae.neck.decoder_pos_embed.shape) == (1, 65, 128)
    assert len(mae.neck.decoder_blocks) == 2


def test_vit_size_patch_and_arguments(tmp_path):
    vit = dict(backbone=dict(type='MAEViT', patch_size=16), neck=dict(type='MAEPretrainDecoder'))
    assert vit_size_patch(vit, 96) == {'model.backbone.img_size': 96,
                                       'model.neck.num_patches': 36}
    assert vit_size_patch(dict(backbone=dict(type='CMIDResNet', depth=18)), 96) == {}
    with pytest.raises(ValueError, match=r'--crop-size 100 .*model.backbone.patch_size=16'):
        vit_size_patch(vit, 100)
    args = sc.parse_args(['--backbones', 'vit-tiny'])
    assert args.width is None and args.crop_size == 96 and args.section == 'cpu-vit-tiny'
    default = sc.parse_args([])
    assert default.backbones == ['resnet18'] and default.section == 'cpu'  # unchanged
    assert sc.parse_args(['--backbones', 'resnet18', 'vit-tiny', '--width', '32']).width == 32
    with pytest.raises(SystemExit):  # --width sets ResNet channels: no ResNet asked
        sc.parse_args(['--backbones', 'vit-tiny', '--width', '32'])
    with pytest.raises(SystemExit):  # the tiny ViT is a CPU-profile backbone
        sc.parse_args(['--profile', 'gpu', '--backbones', 'vit-tiny'])
    assert Path(METHODS['cmid'].config('vit-tiny')).name == (
        'cmid_vit-tiny-p16_1xb32-adan-20e_s2-tiles-128.py')
