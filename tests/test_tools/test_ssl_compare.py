"""tools/benchmark/ssl_compare.py: the same-budget SSL comparison, end to end on a micro setting.

One micro run (8 real tiles, batch 4, 1 epoch, every 8th eval tile) pretrains CMID, MoCo v2,
BYOL and SimMIM through mmengine's Runner in child processes and scores them with the shared
kNN / linear probe; the tests check the table, the shared budget and the outputs it leaves.
"""
from __future__ import annotations

import json
import math

import pytest
import torch
from mmengine.config import Config

from tools.benchmark import ssl_compare as sc

TRAINED = ('cmid', 'mocov2', 'byol', 'simmim')
PRE = '# Benchmarks\n\nIntro text.\n\n'
POST = '\n\n## Step profile\n\nkept as is\n'


@pytest.fixture(scope='module')
def micro(tmp_path_factory, pretrain_tiles, s2_cls_root):
    work = tmp_path_factory.mktemp('ssl_micro')
    out = work / 'bench.md'
    start, end = sc.markers('cpu')
    out.write_text(f'{PRE}{start}\nan old table\n{end}{POST}')
    results = sc.main(['--micro', '--work-dir', str(work), '--out', str(out)])
    return results, work, out


def test_every_method_has_a_row(micro):
    results, _, _ = micro
    rows = {r['method']: r for r in results['rows']}
    assert set(rows) == {'random', 'mae', *TRAINED}
    assert 'ViT' in rows['mae']['skipped']
    for m in ('random', *TRAINED):
        for key in ('knn_top1', 'linear_top1'):
            assert 0.0 <= rows[m][key] <= 100.0 and math.isfinite(rows[m][key]), (m, key)
    for m in TRAINED:
        r = rows[m]
        assert r['iters_per_epoch'] == 2  # 8 tiles / batch 4, drop_last
        assert len(r['epoch_seconds']) == 1 and r['s_per_epoch'] > 0
        assert r['cpu_s_per_epoch'] > 0 and len(r['loadavg_1min']) == 1
        assert r['torch_threads'] == 1  # the CPU profile's one thread per training process
        assert r['peak_rss_mib'] > 100  # a torch process, in MiB
        assert math.isfinite(r['loss_first_epoch'])
    assert set(rows['cmid']['loss_terms']) == {'loss', 'loss_rec', 'loss_global', 'loss_local'}
    first, last = rows['cmid']['loss_terms']['loss']
    assert first == last == rows['cmid']['loss_first_epoch']  # one epoch: the same mean
    # the eval subset: every 8th of the s2_cls tiles, 3 classes
    assert results['settings']['classes'] == ['bare_built', 'vegetation', 'water']
    assert results['settings']['tiles'] == 8


def test_table_replaces_only_its_section(micro):
    results, _, out = micro
    text = out.read_text()
    start, end = sc.markers('cpu')
    assert text.startswith(PRE) and text.endswith(POST)
    assert text.count(start) == 1 and text.count(end) == 1 and 'an old table' not in text
    section = text.split(start)[1].split(end)[0]
    assert results['command'] in section
    header = ('| method | backbone | kNN top-1 (%) | linear top-1 (%) | s / epoch | CPU s / epoch '
              '| peak RSS (MiB) |')
    assert section.count(header) == 1
    body = [line for line in section.splitlines() if line.startswith('| ')][1:]
    assert [line.split('|')[1].strip() for line in body] == [
        'random init', 'CMID', 'MoCo v2', 'BYOL', 'SimMIM']
    row = {r['method']: r for r in results['rows']}['cmid']
    assert f'| CMID | ResNet-18 | {row["knn_top1"]:.1f} | {row["linear_top1"]:.1f} |' in section
    assert 'MAE (ResNet-18): MAE needs a ViT' in section
    saved = json.loads((out.parent / 'results.json').read_text())
    assert saved['rows'] == json.loads(json.dumps(results['rows']))


def test_all_methods_share_the_budget(micro):
    _, work, _ = micro
    cfgs = {m: Config.fromfile(str(work / 'resnet18' / m / 'config.py')) for m in TRAINED}
    types = {m: c.model.type for m, c in cfgs.items()}
    assert types == {'cmid': 'CMID', 'mocov2': 'MoCo', 'byol': 'BYOL', 'simmim': 'SimMIM'}

    def normalisation(c):  # CMID sets it in the model, the mmpretrain configs at top level
        pre = c.model.get('data_preprocessor') or c.data_preprocessor
        return pre.mean, pre.std, pre.to_rgb

    shared = {m: (c.train_dataloader.batch_size, c.train_dataloader.dataset.data_root,
                  c.train_dataloader.dataset.indices, c.train_cfg.max_epochs,
                  c.randomness.seed, c.optim_wrapper.optimizer.type,
                  c.optim_wrapper.optimizer.lr, c.param_scheduler, normalisation(c))
              for m, c in cfgs.items()}
    assert len(set(map(str, shared.values()))) == 1, shared
    assert shared['cmid'][0] == 4 and shared['cmid'][3] == 1 and shared['cmid'][5] == 'Adan'
    # the same crop size everywhere: 128 px views / masks
    assert cfgs['mocov2'].train_dataloader.dataset.pipeline[1].transforms[0][0].scale == 128
    assert cfgs['simmim'].train_dataloader.dataset.pipeline[-2].input_size == 128
    assert cfgs['cmid'].train_dataloader.dataset.pipeline[-2].crop_size == 128


def test_saved_backbones_load_into_stock_resnet18(micro):
    from mmpretrain.models import ResNet
    _, work, _ = micro
    net = ResNet(depth=18, out_indices=(3, ))
    for m in TRAINED:
        state = torch.load(work / 'resnet18' / m / 'backbone.pth', weights_only=True)
        state.pop('mask_token', None)
        assert net.load_state_dict(state, strict=True) is not None, m


def test_shared_schedule_and_section_writer(tmp_path):
    sched = sc.warmup_cosine(20)
    assert [s['type'] for s in sched] == ['LinearLR', 'CosineAnnealingLR']
    assert sched[0]['end'] == 2 and sched[1]['begin'] == 2 and sched[1]['T_max'] == 18
    assert [s['type'] for s in sc.warmup_cosine(1)] == ['CosineAnnealingLR']
    out = tmp_path / 'new.md'
    sc.write_section(out, 'gpu', 'table v1')
    sc.write_section(out, 'cpu', 'cpu table')
    sc.write_section(out, 'gpu', 'table v2')
    text = out.read_text()
    assert 'table v1' not in text and text.count('table v2') == 1 and 'cpu table' in text
    assert text.index('ssl_compare:gpu:start') < text.index('ssl_compare:cpu:start')
