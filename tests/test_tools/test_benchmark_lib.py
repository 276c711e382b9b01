"""cmid_mm.benchmark: the table of methods, the shared run config, the frozen-evaluation
call and the table pieces the benchmark tools share."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from cmid_mm import benchmark as bm
from cmid_mm.benchmark import methods


def test_every_method_config_exists_and_every_skip_has_a_reason():
    for name, m in bm.METHODS.items():
        assert m.name == name and m.display
        for key, cfg in m.configs.items():
            assert key in bm.BACKBONES and cfg.is_file(), (name, key, cfg)
        for key in bm.BACKBONES:
            assert (m.config(key) is None) == (key in m.skip or not m.configs), (name, key)
    assert bm.METHODS['mae'].why_not('resnet18') == bm.MAE_REASON.format(backbone='ResNet-18')
    assert bm.display('random') == 'random init' and bm.display('mocov2') == 'MoCo v2'


def test_a_new_method_is_one_entry(monkeypatch, tmp_path):
    """An entry with its own rules and head widths reaches the built config, no other edit."""
    new = dataclasses.replace(
        bm.METHODS['mocov2'], name='mymoco', display='My MoCo',
        schedule_rules=lambda n, b, e: {'model.queue_len': n * 100 + b * 10 + e},
        head_widths=lambda out, width: {'model.neck.hid_channels': 3 * out})
    monkeypatch.setitem(methods.METHODS, 'mymoco', new)
    budget = bm.Budget(batch_size=4, lr=1e-3, crop_size=96, num_workers=0, tiles=8)
    cfg = bm.build_config(new.config('resnet18'), budget, tmp_path, tmp_path / 'run', 'mymoco',
                          seed=3, epochs=6, num_tiles=8, width=16)
    assert cfg.model.queue_len == 846 and cfg.model.neck.hid_channels == 3 * 128
    assert cfg.model.backbone.stem_channels == 16 and cfg.train_dataloader.batch_size == 4
    assert cfg.optim_wrapper.optimizer.lr == 1e-3 and cfg.randomness.seed == 3
    assert 'loss_weights' not in cfg.model and bm.display('mymoco') == 'My MoCo'


def test_cmid_runs_get_their_loss_weights_and_dump_runs(tmp_path):
    budget = bm.Budget(batch_size=4, lr=2e-3, crop_size=96, num_workers=0)
    cfg = bm.build_config(bm.METHODS['cmid'].config('resnet18'), budget, tmp_path, tmp_path,
                          'cmid', 0, 6, 8, 16, loss_weights=dict(rec=1., local=0., **{
                              'global': 0.}))
    assert cfg.model.loss_weights == {'rec': 1., 'local': 0., 'global': 0.}
    assert cfg.model.global_head.queue_len == 8  # cmid_short_schedule(8, 4, 6)
    from mmengine.config import Config
    path = bm.dump_config(cfg, tmp_path / 'config.py')
    assert Config.fromfile(str(path)).model.loss_weights == cfg.model.loss_weights


def test_seed_summary_and_table_pieces():
    rows = [dict(seed=s, scores={'a/knn': v}, steps=12, cost=None) for s, v in
            ((0, 10.), (1, 20.), (2, 30.))]
    e = bm.seed_summary(rows, dict(run='x'), ('steps', 'cost'))
    assert e == dict(run='x', seeds=[0, 1, 2], scores={'a/knn': dict(mean=20., std=10.)},
                     steps=12., cost=None)
    # a score that only some seeds have (an optional probe) is not averaged over fewer seeds
    rows[0]['scores']['a/extra'] = rows[2]['scores']['a/extra'] = 5.
    rows[1]['scores']['b/late'] = 7.
    assert bm.seed_summary(rows, dict(run='x'))['scores'] == {'a/knn': dict(mean=20., std=10.)}
    assert bm.mean_std_cell(e['scores']['a/knn']) == '20.0 ± 10.0'
    assert bm.mean_std_cell(dict(mean=1.234, std=None), 2) == '1.23'
    assert bm.value_cells(e, (('steps', '.0f'), ('cost', '.1f'))) == ['12', '-']
    assert bm.row(['a', 'b']) == '| a | b |' and bm.rule('lr') == '|---|---:|'
    assert bm.markers('t', 'cpu') == ('<!-- t:cpu:start -->', '<!-- t:cpu:end -->')
    assert list(bm.group_rows([dict(k=2), dict(k=1), dict(k=2)], lambda r: r['k'])) == [2, 1]


def test_eval_frozen_argv_and_child_evaluation(tmp_path, pretrain_tiles, monkeypatch):
    """One argv for every caller; the child-process call (the demo's) writes what the tool
    writes in this process; the in-process call needs the library only, not the checkout's
    ``tools/`` (an installed package has none)."""
    protocol = bm.FrozenProtocol(bn_recalib=1, scene_sets=['s2_cls'], dense_sets=[],
                                 micro=True, threads=1)
    cfg = bm.eval_config(bm.METHODS['cmid'].config('resnet18'), 16, tmp_path / 'eval_cfg.py')
    argv = bm.eval_frozen_argv(cfg, None, tmp_path / 'a.json', 1, pretrain_tiles, protocol,
                               color=False)
    assert argv[:2] == [str(cfg), '--random-init'] and '--no-color' in argv
    assert argv[argv.index('--seed') + 1] == '1' and argv[-2:] == ['--threads', '1']
    with monkeypatch.context() as m:
        m.setattr(bm.frozen_eval, 'EVAL_TOOL', tmp_path / 'no_tools' / 'eval_frozen.py')
        here = bm.evaluate(cfg, None, tmp_path / 'a.json', 1, pretrain_tiles, protocol, False)
    child = bm.evaluate(cfg, None, tmp_path / 'b.json', 1, pretrain_tiles, protocol, False,
                        in_process=False)
    assert (tmp_path / 'a.log').is_file()
    assert child['scene'] == here['scene'] and child['bn_recalib'] == here['bn_recalib']
    assert bm.flat_scores(child) == {
        's2_cls/knn': here['scene']['s2_cls']['knn_top1'],
        's2_cls/linear': here['scene']['s2_cls']['linear_top1']}
    assert json.loads((tmp_path / 'b.json').read_text())['seed'] == 1


def test_export_for_finetune_refuses_a_checkpoint_without_backbone(tmp_path):
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'neck.fc.weight': torch.ones(2)}}, bad)
    with pytest.raises(ValueError, match=r'bad\.pth.*MoCo v2.*backbone\..*neck'):
        bm.export_for_finetune('mocov2', bad, tmp_path / 'x.pth')
    with pytest.raises(KeyError):
        bm.export_for_finetune('nomethod', bad, tmp_path / 'x.pth')


def test_resume_reuses_a_finished_run_only_with_the_same_config(tmp_path):
    """Same config and every finished file: reused, outputs kept; another config (here the
    epochs, or CMID's loss_weights, written by a statement of their own) or a missing file:
    not reused and every stale output gone; without --resume never reused. The run dir
    always ends with this call's config."""
    from mmengine.config import Config

    def cfg(epochs=6, rec=1.):
        return Config(dict(model=dict(type='CMID', loss_weights={'rec': rec, 'global': 1.}),
                           train_cfg=dict(max_epochs=epochs)))

    run = tmp_path / 'run'
    finished, outputs = ('stats.json', 'backbone.pth'), ('eval.json', )

    def finish():
        for name in (*finished, *outputs):
            (run / name).write_text(name)

    assert not bm.reuse_finished_run(cfg(), run, finished, True, outputs)  # nothing saved
    finish()
    assert bm.reuse_finished_run(cfg(), run, finished, True, outputs)
    assert all((run / f).read_text() == f for f in (*finished, *outputs))
    assert not (run / 'config.new.py').exists()
    assert not bm.reuse_finished_run(cfg(), run, finished, False, outputs)  # no --resume
    assert not any((run / f).exists() for f in (*finished, *outputs))
    for changed in (cfg(epochs=7), cfg(rec=0.)):
        bm.reuse_finished_run(cfg(), run, finished, False, outputs)
        finish()
        assert not bm.reuse_finished_run(changed, run, finished, True, outputs)
        assert not any((run / f).exists() for f in (*finished, *outputs))
        assert Config.fromfile(str(run / 'config.py')).to_dict() == changed.to_dict()
    finish()
    (run / 'backbone.pth').unlink()  # killed before the backbone was saved
    assert not bm.reuse_finished_run(cfg(rec=0.), run, finished, True, outputs)
    assert not (run / 'eval.json').exists() and not (run / 'stats.json').exists()
