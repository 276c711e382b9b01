"""tools/benchmark/ssl_compare.py: the same-budget SSL comparison, end to end on a micro setting.

One micro run (8 corpus tiles, batch 4, 12 steps, seeds 0 and 1, eval_frozen --micro on s2_cls
and cloud_seg) pretrains CMID, MoCo v2, BYOL, SimMIM and the three CMID ablations through
mmengine's Runner in child processes and scores every backbone, random init and the colour
baseline with eval_frozen.py; the tests check the tables, the shared budget, the short-schedule
rules, the one BN protocol and the outputs it leaves.
"""
from __future__ import annotations

import json
import math
import statistics

import pytest
import torch
from mmengine.config import Config

from tests.test_tools.golden_tables import assert_same_as_before, section
from tools.benchmark import ssl_compare as sc

TRAINED = ('cmid', 'mocov2', 'byol', 'simmim')
ABLATIONS = ('cmid_rec', 'cmid_global', 'cmid_local')
SEEDS = (0, 1)
SCORE_KEYS = {'s2_cls/knn', 's2_cls/linear', 'cloud_seg/miou'}  # the micro eval sets
PRE = '# Benchmarks\n\nIntro text.\n\n'
POST = '\n\n## Step profile\n\nkept as is\n'


@pytest.fixture(scope='module')
def micro(tmp_path_factory, pretrain_tiles, s2_cls_root):
    work = tmp_path_factory.mktemp('ssl_micro')
    out = work / 'bench.md'
    start, end = sc.markers('cpu')
    out.write_text(f'{PRE}{start}\nan old table\n{end}{POST}')
    results = sc.main(['--micro', '--seeds', *map(str, SEEDS), '--work-dir', str(work),
                       '--out', str(out)])
    return results, work, out


def _rows(results, run):
    return [r for r in results['rows'] if r['run'] == run and 'scores' in r]


def test_every_row_has_scene_and_dense_scores(micro):
    results, _, _ = micro
    summary = {e['run']: e for e in results['summary']}
    assert set(summary) == {'colour', 'random', *TRAINED, *ABLATIONS}
    assert [r['skipped'] for r in results['rows'] if r.get('skipped')] == [
        sc.MAE_REASON.format(backbone='ResNet-18')]
    assert not any(r.get('error') for r in results['rows'])
    for run, e in summary.items():
        assert set(e['scores']) == SCORE_KEYS, run
        for key, s in e['scores'].items():
            assert 0.0 <= s['mean'] <= 100.0 and math.isfinite(s['mean']), (run, key)
        assert e['seeds'] == ([SEEDS[0]] if run in ABLATIONS else list(SEEDS)), run
    for run in (*TRAINED, *ABLATIONS):
        for r in _rows(results, run):
            assert r['steps'] == 12 and r['iters_per_epoch'] == 2  # 8 tiles / batch 4
            assert r['s_per_step'] > 0 and r['cpu_minutes'] > 0 and r['peak_rss_mib'] > 100
            assert r['torch_threads'] == 1
    assert set(_rows(results, 'cmid')[0]['loss_terms']) == {
        'loss', 'loss_rec', 'loss_global', 'loss_local'}


def test_seeds_give_mean_and_std(micro):
    results, _, out = micro
    section = out.read_text()
    for e in results['summary']:
        rows = _rows(results, e['run'])
        assert sorted(r['seed'] for r in rows) == e['seeds']
        for key, s in e['scores'].items():
            vals = [r['scores'][key] for r in rows]
            assert s['mean'] == pytest.approx(statistics.fmean(vals))
            if len(vals) > 1:
                assert s['std'] == pytest.approx(statistics.stdev(vals))
                assert f'{s["mean"]:.1f} ± {s["std"]:.1f}' in section
            else:
                assert s['std'] is None
    # the seeds differ: the random-init features of seed 0 and 1 are different networks
    r0, r1 = (json.loads((out.parent / 'resnet18/random' / f'seed{s}' / 'eval.json').read_text())
              for s in SEEDS)
    assert r0['seed'] == 0 and r1['seed'] == 1
    assert r0['dense']['cloud_seg']['miou'] != r1['dense']['cloud_seg']['miou']


def test_ablation_rows_train_with_their_loss_weights(micro):
    results, work, _ = micro
    for run in ('cmid', *ABLATIONS):
        cfg = Config.fromfile(str(work / 'resnet18' / run / 'seed0' / 'config.py'))
        want = sc.ALL_TERMS if run == 'cmid' else sc.ABLATIONS[run]
        assert cfg.model.loss_weights == want, run
        assert _rows(results, run)[0]['loss_weights'] == want
    # the weights reach the trained model: zero-weight terms log 0, the kept term does not
    for run, kept in (('cmid_rec', 'loss_rec'), ('cmid_global', 'loss_global'),
                      ('cmid_local', 'loss_local')):
        terms = _rows(results, run)[0]['loss_terms']
        for term in ('loss_rec', 'loss_global', 'loss_local'):
            first, last = terms[term]
            if term == kept:
                assert first > 0 and last > 0, (run, term)
            else:
                assert first == last == 0.0, (run, term)
    terms = _rows(results, 'cmid')[0]['loss_terms']
    assert all(terms[t][0] > 0 for t in ('loss_rec', 'loss_global', 'loss_local'))


def test_one_bn_protocol_and_eval_config_for_every_row(micro):
    results, work, _ = micro
    corpus = str(results['rows'][-1]['bn_recalib']['tiles'])
    assert 'corpus' in corpus
    evals = sorted(work.glob('resnet18/*/seed*/eval.json'))
    assert len(evals) == len(SEEDS) * (1 + len(TRAINED)) + len(ABLATIONS)
    for path in evals:
        r = json.loads(path.read_text())
        assert r['config'] == str(work / 'resnet18' / 'eval_config.py'), path
        assert r['bn_recalib_batches'] == 2 and r['micro'] is True, path
        assert r['bn_recalib'] == dict(tiles=corpus, batches=2, batch_size=32), path
        assert r['branch'] == ('random init' if 'random' in path.parts else 'student'), path
    for row in results['rows']:
        if 'scores' in row and row['run'] != 'colour':
            assert row['bn_recalib'] == dict(tiles=corpus, batches=2, batch_size=32), row['run']


def test_all_methods_share_the_budget_and_get_their_rules(micro):
    results, work, _ = micro
    cfgs = {m: Config.fromfile(str(work / 'resnet18' / m / 'seed1' / 'config.py'))
            for m in TRAINED}
    types = {m: c.model.type for m, c in cfgs.items()}
    assert types == {'cmid': 'CMID', 'mocov2': 'MoCo', 'byol': 'BYOL', 'simmim': 'SimMIM'}

    def normalisation(c):  # CMID sets it in the model, the mmpretrain configs at top level
        pre = c.model.get('data_preprocessor') or c.data_preprocessor
        return pre.mean, pre.std, pre.to_rgb

    shared = {m: (c.train_dataloader.batch_size, c.train_dataloader.dataset.data_root,
                  c.train_dataloader.dataset.indices, c.train_cfg.max_epochs,
                  c.randomness.seed, c.optim_wrapper.optimizer.type,
                  c.optim_wrapper.optimizer.lr, c.param_scheduler, normalisation(c),
                  c.model.backbone.stem_channels, c.model.backbone.base_channels)
              for m, c in cfgs.items()}
    assert len(set(map(str, shared.values()))) == 1, shared
    assert shared['cmid'][0] == 4 and shared['cmid'][3] == 6 and shared['cmid'][4] == 1
    assert 'corpus' in shared['cmid'][1] and shared['cmid'][9] == 16
    # the same 96 px views / masks everywhere
    assert cfgs['mocov2'].train_dataloader.dataset.pipeline[1].transforms[0][0].scale == 96
    assert cfgs['simmim'].train_dataloader.dataset.pipeline[-2].input_size == 96
    assert cfgs['cmid'].train_dataloader.dataset.pipeline[-2].crop_size == 96
    # short-schedule rules for 8 tiles, batch 4, 6 epochs = 12 steps
    from cmid_mm.models.utils import cmid_short_schedule
    rules = cmid_short_schedule(8, 4, 6)
    cm = cfgs['cmid'].model
    assert cm.global_head.queue_len == rules['global_head']['queue_len']
    assert cm.teacher.momentum == rules['teacher']['momentum'] == 0.5
    assert cm.local_loss.warmup_teacher_temp_iters == 3
    assert cm.local_loss.warmup_teacher_temp_epochs is None
    assert cfgs['mocov2'].model.queue_len == 4  # >= one step's 4 keys
    assert cfgs['mocov2'].model.momentum == 0.25  # 3 / 12
    assert cfgs['byol'].model.base_momentum == 0.5  # 6 / 12
    assert results['settings']['rules']['simmim'] == {}


def test_saved_backbones_load_into_the_eval_model(micro):
    from mmpretrain.models import ResNet
    _, work, _ = micro
    for m in (*TRAINED, *ABLATIONS):
        state = torch.load(work / 'resnet18' / m / 'seed0' / 'backbone.pth', weights_only=True)
        state.pop('mask_token', None)
        net = ResNet(depth=18, stem_channels=16, base_channels=16, out_indices=(3, ))
        missing, unexpected = net.load_state_dict(state, strict=True)
        assert not missing and not unexpected, m
        loaded = net.state_dict()
        assert loaded.keys() == state.keys(), m
        assert all(torch.equal(loaded[k], v) for k, v in state.items()), m
        assert state['layer4.1.conv2.weight'].shape == (128, 128, 3, 3)  # width 16 x 8


def test_table_replaces_only_its_section(micro):
    results, _, out = micro
    text = out.read_text()
    start, end = sc.markers('cpu')
    assert text.startswith(PRE) and text.endswith(POST)
    assert text.count(start) == 1 and text.count(end) == 1 and 'an old table' not in text
    section = text.split(start)[1].split(end)[0]
    assert results['command'] in section
    header = ('| features | backbone | s2_cls kNN | s2_cls linear | cloud_seg mIoU | steps | '
              's / step | CPU min / run |')
    assert section.count(header) == 1
    tables = [[line.split('|')[1].strip() for line in block.splitlines()
               if line.startswith('| ')][1:] for block in section.split('\n\n') if '| ' in block]
    assert tables == [['colour baseline', 'random init', 'CMID', 'MoCo v2', 'BYOL', 'SimMIM'],
                      ['reconstruction only', 'global only', 'local only', 'all three']]
    assert '| reconstruction only | rec 1, local 0, global 0 | ResNet-18 |' in section
    assert 'MAE (ResNet-18): MAE needs a ViT' in section
    saved = json.loads((out.parent / 'results.json').read_text())
    assert saved['rows'] == json.loads(json.dumps(results['rows']))


def test_schedule_rules_and_section_writer(tmp_path):
    assert sc.plan_epochs(618, 16, 1000) == (38, 27)  # 1026 steps
    with pytest.raises(ValueError, match='no full batch'):
        sc.plan_epochs(8, 16, 100)
    # the CPU profile: 618 corpus tiles, batch 16, 27 epochs = 1026 steps
    assert sc.short_schedule_patch('mocov2', 618, 16, 27) == {
        'model.queue_len': 128, 'model.momentum': 0.002924}  # 16 x 38 / 4 = 152 -> 128; 3 / 1026
    assert sc.short_schedule_patch('byol', 618, 16, 27) == {'model.base_momentum': 0.01}
    assert sc.short_schedule_patch('byol', 618, 16, 5) == {'model.base_momentum': 0.031579}
    assert sc.short_schedule_patch('simmim', 618, 16, 27) == {}
    cmid = sc.short_schedule_patch('cmid', 618, 16, 27)
    assert cmid['model.global_head.queue_len'] == 256 and cmid['model.teacher.momentum'] == 0.005848
    assert cmid['model.local_loss.warmup_teacher_temp_iters'] == 256
    w = sc.width_patch('byol', {'backbone': {'depth': 18}}, 16)
    assert w['model.neck.in_channels'] == 128 and w['model.neck.hid_channels'] == 256
    assert sc.width_patch('cmid', {'backbone': {'depth': 50}}, 16)['model.neck.in_channels'] == 512
    assert sc.width_patch('cmid', {'backbone': {'depth': 18}}, None) == {}
    with pytest.raises(SystemExit):
        sc.parse_args(['--iters', '5'])
    sched = sc.warmup_cosine(20)
    assert [s['type'] for s in sched] == ['LinearLR', 'CosineAnnealingLR']
    assert sched[0]['end'] == 2 and sched[1]['begin'] == 2 and sched[1]['T_max'] == 18
    out = tmp_path / 'new.md'
    sc.write_section(out, 'gpu', 'table v1')
    sc.write_section(out, 'cpu', 'cpu table')
    sc.write_section(out, 'gpu', 'table v2')
    text = out.read_text()
    assert 'table v1' not in text and text.count('table v2') == 1 and 'cpu table' in text
    assert text.index('ssl_compare:gpu:start') < text.index('ssl_compare:cpu:start')


def test_table_and_results_as_before_the_move(micro):
    """The table and results.json of this micro run equal the ones ssl_compare.py wrote
    before the orchestration moved into cmid_mm.benchmark (timings, dates masked)."""
    results, work, out = micro
    assert_same_as_before('ssl_compare', section(out.read_text(), *sc.markers('cpu')),
                          json.loads((work / 'results.json').read_text()), work)


def test_rows_as_they_come_resume_and_collect(micro, tmp_path):
    """rows.jsonl holds every finished row; --resume scores the finished runs again from
    their files without training; --collect merges a seed run in another work dir, and
    refuses one run with other settings."""
    results, work, out = micro
    rows = [json.loads(line) for line in (work / 'rows.jsonl').read_text().splitlines()]
    assert len(rows) == len(results['rows']) and rows[-1] == results['rows'][-1]
    other = tmp_path / 'seed2'
    argv = ['--micro', '--seeds', '2', '--methods', 'mocov2', '--work-dir', str(other)]
    first = sc.main(argv)
    run = other / 'resnet18/mocov2/seed2'
    stamps = {f: (run / f).stat().st_mtime_ns for f in ('stats.json', 'backbone.pth')}
    (run / 'eval.json').unlink()  # "crashed" between the pretraining and its evaluation
    again = sc.main([*argv, '--resume'])
    assert {f: (run / f).stat().st_mtime_ns for f in stamps} == stamps  # not retrained
    assert [r.get('scores') for r in again['rows']] == [r.get('scores') for r in first['rows']]
    merged_out = tmp_path / 'merged.md'
    merged = sc.main(['--collect', str(work), str(other), str(work), '--out', str(merged_out)])
    assert merged['settings']['seeds'] == [0, 1, 2]
    by_run = {e['run']: e for e in merged['summary']}
    assert by_run['mocov2']['seeds'] == [0, 1, 2] and by_run['cmid']['seeds'] == [0, 1]
    m = [r['scores']['s2_cls/knn'] for r in [*results['rows'], *first['rows']]
         if r['run'] == 'mocov2' and 'scores' in r]
    assert by_run['mocov2']['scores']['s2_cls/knn']['mean'] == pytest.approx(statistics.fmean(m))
    assert '| MoCo v2 | ResNet-18 |' in merged_out.read_text()
    bad = json.loads((other / 'results.json').read_text())
    bad['settings']['lr'] = 0.1
    (other / 'results.json').write_text(json.dumps(bad))
    with pytest.raises(ValueError, match='different settings'):
        sc.main(['--collect', str(work), str(other), '--out', str(merged_out)])
