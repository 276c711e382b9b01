"""tools/benchmark/ssl_compare.py: the DenseCL, Barlow Twins and MoCo v3 rows (ResNet).

One micro run (8 corpus tiles, batch 4, 12 steps, seed 0, eval_frozen --micro on s2_cls and
cloud_seg) with ``--methods densecl barlowtwins mocov3 --no-ablations`` pretrains the three
methods through mmpretrain's own algorithms in child processes, exports their backbones and
scores them beside random init and the colour baseline; the tests check the rows, the
short-schedule rules and head widths that reached each run's config, and the exports. The
rules and widths are also checked against hand-computed values at the CPU profile, and each
ResNet-18 config trains two steps with tools/train.py and exports its student backbone.
"""
from __future__ import annotations

import math

import pytest
import torch
from mmengine.config import Config

from tools.benchmark import ssl_compare as sc

NEW = ('densecl', 'barlowtwins', 'mocov3')
SCORE_KEYS = {'s2_cls/knn', 's2_cls/linear', 'cloud_seg/miou'}


@pytest.fixture(scope='module')
def micro(tmp_path_factory, pretrain_tiles, s2_cls_root):
    work = tmp_path_factory.mktemp('ssl_rows_micro')
    results = sc.main(['--micro', '--seeds', '0', '--methods', *NEW, '--no-ablations',
                       '--work-dir', str(work), '--out', str(work / 'bench.md')])
    return results, work


def _cfg(work, method):
    return Config.fromfile(str(work / 'resnet18' / method / 'seed0' / 'config.py'))


def test_three_rows_train_and_score(micro):
    results, work = micro
    assert not any(r.get('error') or r.get('skipped') for r in results['rows'])
    summary = {e['run']: e for e in results['summary']}
    assert set(summary) == {'colour', 'random', *NEW}
    for m in NEW:
        assert set(summary[m]['scores']) == SCORE_KEYS, m
        assert all(0. <= s['mean'] <= 100. and math.isfinite(s['mean'])
                   for s in summary[m]['scores'].values()), m
        (r, ) = [r for r in results['rows'] if r['run'] == m]
        assert r['steps'] == 12 and r['iters_per_epoch'] == 2, m  # 8 tiles / batch 4
        assert all(math.isfinite(v) for v in r['loss_terms']['loss']), m
    # DenseCL trains both of its terms (global and dense contrast)
    dense = next(r for r in results['rows'] if r['run'] == 'densecl')['loss_terms']
    assert {'loss_single', 'loss_dense'} <= set(dense)
    assert all(v > 0 for v in (*dense['loss_single'], *dense['loss_dense']))
    table = (work / 'bench.md').read_text()
    names = [line.split('|')[1].strip() for line in table.splitlines()
             if line.startswith('| ') and 'ResNet-18' in line]
    assert names == ['colour baseline', 'random init', 'DenseCL', 'Barlow Twins', 'MoCo v3']
    assert ('DenseCL: `queue_len=4`, `momentum=0.25`; Barlow Twins: none; '
            'MoCo v3: `base_momentum=0.5`') in table


def test_runs_use_mmpretrain_algorithms_with_rules_and_widths(micro):
    _, work = micro
    cfgs = {m: _cfg(work, m) for m in NEW}
    assert {m: c.model.type for m, c in cfgs.items()} == {
        'densecl': 'DenseCL', 'barlowtwins': 'BarlowTwins', 'mocov3': 'MoCoV3'}
    for c in cfgs.values():  # the shared budget: ResNet-18 at width 16, 96 px, Adan
        assert c.model.backbone.depth == 18 and c.model.backbone.base_channels == 16
        assert c.model.neck.in_channels == 128 and c.optim_wrapper.optimizer.type == 'Adan'
        assert c.optim_wrapper.type == 'OptimWrapper'
        assert c.train_dataloader.dataset.pipeline[1].transforms[0][0].scale == 96
    # rules for 8 tiles, batch 4, 6 epochs = 12 steps
    d, b, v3 = cfgs['densecl'].model, cfgs['barlowtwins'].model, cfgs['mocov3'].model
    assert d.queue_len == 4 and d.momentum == 0.25  # >= one step's 4 keys; 3 / 12
    assert v3.base_momentum == 0.5  # 6 / 12
    assert 'base_momentum' not in b and 'momentum' not in b
    # head widths from C = 128
    assert d.neck.hid_channels == 128 and d.neck.out_channels == 128  # the 128-d embedding
    assert b.neck.hid_channels == b.neck.out_channels == b.head.in_channels == 512
    assert v3.neck.hid_channels == v3.head.predictor.hid_channels == 256
    assert v3.neck.out_channels == v3.head.predictor.in_channels == 256


def test_exports_load_into_a_stock_resnet(micro):
    from mmpretrain.models import ResNet
    _, work = micro
    for m in NEW:
        state = torch.load(work / 'resnet18' / m / 'seed0' / 'backbone.pth', weights_only=True)
        net = ResNet(depth=18, stem_channels=16, base_channels=16, out_indices=(3, ))
        missing, unexpected = net.load_state_dict(state, strict=True)
        assert not missing and not unexpected, m
        assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items()), m
        assert state['layer4.1.conv2.weight'].shape == (128, 128, 3, 3)


def test_rules_at_the_cpu_profile():
    """618 corpus tiles, batch 16 (38 steps per epoch), 40 epochs = 1520 steps."""
    assert sc.short_schedule_patch('densecl', 618, 16, 40) == {
        'model.queue_len': 128, 'model.momentum': 0.001974}  # 16 x 38 / 4 = 152 -> 128; 3 / 1520
    assert sc.short_schedule_patch('mocov3', 618, 16, 40) == {
        'model.base_momentum': 0.01}  # 6 / 1520 = 0.0039 < the recipe's 0.01
    assert sc.short_schedule_patch('mocov3', 618, 16, 5) == {
        'model.base_momentum': 0.031579}  # 6 / 190
    assert sc.short_schedule_patch('densecl', 618, 16, 5) == {
        'model.queue_len': 128, 'model.momentum': 0.015789}  # 3 / 190
    assert sc.short_schedule_patch('barlowtwins', 618, 16, 40) == {}
    # a batch that is not a power of two: 600 tiles / 12 = 50 steps, 150 keys per quarter
    # epoch -> 128 -> 120, a whole number of batches (mmpretrain asserts queue_len % batch == 0)
    for method in ('densecl', 'mocov2'):
        assert sc.short_schedule_patch(method, 600, 12, 40)['model.queue_len'] == 120


def test_densecl_takes_the_rule_queue_at_a_batch_of_12():
    """The rule's queue for batch 12 works in mmpretrain's DenseCL (two enqueues per step)."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    q = sc.short_schedule_patch('densecl', 600, 12, 40)['model.queue_len']
    cfg = Config.fromfile(str(sc.CONFIGS / 'densecl_resnet18_s2-tiles-128.py'))
    cfg.merge_from_dict({'model.queue_len': q, **sc.width_patch('densecl', cfg.model, 8)})
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    torch.manual_seed(0)
    for _ in range(2):
        model.loss([torch.randn(12, 3, 64, 64), torch.randn(12, 3, 64, 64)], [])
    assert int(model.queue_ptr) == int(model.queue2_ptr) == 24


@pytest.mark.parametrize('depth,width,c', [(18, 16, 128), (50, 16, 512), (50, 64, 2048)])
def test_head_widths_keep_the_recipe_ratios(depth, width, c):
    model = {'backbone': {'depth': depth}}
    assert sc.width_patch('densecl', model, width) == {
        'model.backbone.stem_channels': width, 'model.backbone.base_channels': width,
        'model.neck.in_channels': c, 'model.neck.hid_channels': c}
    bt = sc.width_patch('barlowtwins', model, width)
    assert (bt['model.neck.hid_channels'], bt['model.neck.out_channels'],
            bt['model.head.in_channels']) == (4 * c, 4 * c, 4 * c)
    v3 = sc.width_patch('mocov3', model, width)
    assert (v3['model.neck.hid_channels'], v3['model.head.predictor.hid_channels']) == (
        2 * c, 2 * c)
    if width == 64:  # the stock ResNet-50 gives the shipped recipes' sizes
        assert (bt['model.neck.hid_channels'], v3['model.neck.hid_channels']) == (8192, 4096)


def test_methods_are_named_and_swin_is_skipped_with_a_reason():
    args = sc.parse_args(['--methods', *NEW])
    assert args.methods == list(NEW)
    assert sc.parse_args([]).methods == ['cmid', 'mocov2', 'byol', 'simmim', 'mae']
    assert [sc.DISPLAY[m] for m in NEW] == ['DenseCL', 'Barlow Twins', 'MoCo v3']
    for m in NEW:
        assert sc.METHODS[m].config('swin-base') is None
        assert 'no Swin-B config' in sc.METHODS[m].why_not('swin-base')


@pytest.mark.parametrize('method', NEW)
def test_config_trains_with_train_py_and_exports_the_student(method, tmp_path, pretrain_tiles):
    """Two steps of the ResNet-18 config with tools/train.py on real tiles (width 16); the
    fine-tune export of its checkpoint is the student backbone, not the momentum copy."""
    import os
    import subprocess
    import sys

    from mmpretrain.models import ResNet

    from cmid_mm.benchmark import export_for_finetune
    from cmid_mm.utils.checkpoint import safe_load_checkpoint
    cfg = sc.CONFIGS / f'{method}_resnet18_s2-tiles-128.py'
    opts = [f'train_dataloader.dataset.data_root={pretrain_tiles}',
            'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
            'model.backbone.stem_channels=16', 'model.backbone.base_channels=16',
            'model.neck.in_channels=128', 'randomness.seed=0']
    env = {**os.environ, 'PYTHONPATH': str(sc.REPO), 'OMP_NUM_THREADS': '1'}
    proc = subprocess.run([sys.executable, str(sc.REPO / 'tools/train.py'), str(cfg),
                           '--work-dir', str(tmp_path), '--cfg-options', *opts],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = tmp_path / 'epoch_1.pth'
    full = safe_load_checkpoint(ckpt)['state_dict']
    out = export_for_finetune(method, ckpt, tmp_path / 'export.pth', log=lambda m: None)
    state = safe_load_checkpoint(out)['state_dict']
    student = {k[len('backbone.'):]: v for k, v in full.items() if k.startswith('backbone.')}
    assert {k[len('backbone.'):]: v for k, v in state.items()}.keys() == student.keys()
    assert all(torch.equal(state[f'backbone.{k}'], v) for k, v in student.items())
    net = ResNet(depth=18, stem_channels=16, base_channels=16, out_indices=(3, ))
    missing, unexpected = net.load_state_dict(student, strict=True)
    assert not missing and not unexpected
    ema = {'densecl': 'encoder_k.module.0.', 'mocov3': 'momentum_encoder.module.0.'}
    if method in ema:  # the momentum copy exists and has moved differently
        copy = {k[len(ema[method]):]: v for k, v in full.items() if k.startswith(ema[method])}
        assert copy.keys() == student.keys()
        assert not all(torch.equal(copy[k], student[k]) for k in student)
