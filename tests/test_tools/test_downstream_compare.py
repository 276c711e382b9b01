"""tools/benchmark/downstream_compare.py: stock mmseg fine-tune, CMID vs random init (--micro).

One micro run (4 iterations, seed 0, 8 train / 4 val real land-cover tiles,
both initialisations, each a real ``tools/train.py`` child process) is shared
by the tests of this module.
"""
import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

from cmid_mm.utils.checkpoint import safe_load_checkpoint
from tests.helpers import write_cmid_checkpoint
from tests.test_tools.golden_tables import assert_same_as_before, section

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'benchmark' / 'downstream_compare.py'


def _load_tool():
    spec = importlib.util.spec_from_file_location('downstream_compare', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


dc = _load_tool()


def _conv_weights(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v.float() for k, v in state.items()
            if k.startswith(prefix) and k.endswith('.weight') and v.dim() == 4}


@pytest.fixture(scope='module')
def micro(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('downstream_compare')
    ckpt, student = write_cmid_checkpoint(tmp / 'cmid_r18.pth', 'resnet', depth=18)
    out = tmp / 'benchmarks.md'
    out.write_text('# Benchmarks\n\nkept text\n')
    res = dc.main(['--cmid-ckpt', str(ckpt), '--micro', '--work-dir', str(tmp / 'dc'),
                   '--out', str(out)])
    return dict(tmp=tmp, res=res, student=student, out=out, work=tmp / 'dc')


def test_rows_and_miou_range(micro):
    results = micro['res']['results']
    assert list(results) == ['random', 'cmid']
    for init, r in results.items():
        assert len(r['runs']) == 1 and r['runs'][0]['seed'] == 0
        miou = r['runs'][0]['mIoU']
        assert 0.0 <= miou <= 100.0, (init, miou)
        assert r['summary']['mean'] == pytest.approx(miou)
        assert r['summary']['n'] == 1
    # the number is the one the run's own metric logged
    scalars = next((micro['work'] / 'cmid' / 'seed0').glob('*/vis_data/scalars.json'))
    logged = [json.loads(line)['mIoU'] for line in scalars.read_text().splitlines()
              if 'mIoU' in line]
    assert results['cmid']['runs'][0]['mIoU'] == pytest.approx(logged[-1])


def test_table_json_and_out_section(micro):
    md = (micro['work'] / 'results.md').read_text()
    rows = [line for line in md.splitlines() if line.startswith('| ')]
    assert rows[0].startswith('| init |')
    body = {line.split('|')[1].strip(): line for line in rows[1:]}
    assert set(body) == {'random init', 'CMID'}
    for init, name in (('random', 'random init'), ('cmid', 'CMID')):
        mean = micro['res']['results'][init]['summary']['mean']
        assert f'{mean:.2f} ± 0.00' in body[name]
    saved = json.loads((micro['work'] / 'results.json').read_text())
    assert saved['results']['cmid']['summary']['mean'] == pytest.approx(
        micro['res']['results']['cmid']['summary']['mean'])
    assert saved['meta']['iters'] == 4 and saved['meta']['n_train'] == 8
    text = micro['out'].read_text()
    assert text.startswith('# Benchmarks\n\nkept text\n')
    start, end = dc.MARKERS
    section = text.split(start, 1)[1].split(end, 1)[0]
    assert '| CMID |' in section and '| random init |' in section


def test_cmid_run_loaded_the_exported_backbone(micro):
    cmid = micro['res']['results']['cmid']
    init_file = Path(cmid['init_file'])
    exported = torch.load(init_file, map_location='cpu', weights_only=True)['state_dict']
    # the export is the student backbone of the CMID checkpoint
    student = {k: v for k, v in micro['student'].state_dict().items() if k != 'mask_token'}
    assert set(exported) == {'backbone.' + k for k in student}
    for k, v in student.items():
        torch.testing.assert_close(exported['backbone.' + k], v)
    # the run's own load check (PretrainedLoadCheckHook in the stock-config leaf): all loaded
    line = cmid['runs'][0]['load_check']
    assert len(line) == 1, line
    m = re.search(r'(\d+) of (\d+) tensors loaded from (\S+)', line[0])
    assert m and m.group(1) == m.group(2) and int(m.group(2)) >= 60, line
    assert m.group(3) == str(init_file)
    assert micro['res']['results']['random']['runs'][0]['load_check'] == []


def test_runs_started_from_their_init(micro):
    """After 4 SGD steps the CMID run's convs are still the exported ones, the random run's not."""
    exported = torch.load(micro['res']['results']['cmid']['init_file'], map_location='cpu',
                          weights_only=True)['state_dict']
    ref = _conv_weights(exported, 'backbone.')

    def rel_dist(init: str) -> float:
        ckpt = next((micro['work'] / init / 'seed0').glob('iter_*.pth'))
        state = safe_load_checkpoint(ckpt)
        trained = _conv_weights(state['state_dict'], 'backbone.')
        assert set(trained) == set(ref)
        num = sum((trained[k] - ref[k]).norm() ** 2 for k in ref) ** 0.5
        den = sum(ref[k].norm() ** 2 for k in ref) ** 0.5
        return float(num / den)

    assert rel_dist('cmid') < 0.05
    assert rel_dist('random') > 0.5


def test_summarise_sample_std():
    s = dc.summarise([dict(mIoU=v, aAcc=50.0) for v in (10.0, 20.0, 30.0)])
    assert s['mean'] == pytest.approx(20.0) and s['std'] == pytest.approx(10.0)
    assert s['per_seed'] == [10.0, 20.0, 30.0] and s['n'] == 3


def test_mocov2_backbone_file(tmp_path):
    src = tmp_path / 'moco.pth'
    w = torch.randn(4, 3, 1, 1)
    torch.save({'meta': {}, 'state_dict': {'backbone.conv1.weight': w,
                                           'momentum_encoder.conv1.weight': w + 1,
                                           'neck.fc.weight': torch.ones(2)}}, src)
    dst = dc.prepare_mocov2(src, tmp_path / 'out' / 'moco_mmseg.pth')
    state = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    assert list(state) == ['backbone.conv1.weight']
    torch.testing.assert_close(state['backbone.conv1.weight'], w)

    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'neck.fc.weight': torch.ones(2)}}, bad)
    with pytest.raises(ValueError, match=r'bad\.pth.*backbone\..*neck'):
        dc.prepare_mocov2(bad, tmp_path / 'x.pth')


def test_table_and_results_as_before_the_move(micro):
    """The table and results.json of this micro run equal the ones of the tool before the
    orchestration moved into cmid_mm.benchmark (timings, dates masked)."""
    assert_same_as_before('downstream_compare', section(micro['out'].read_text(), *dc.MARKERS),
                          json.loads((micro['work'] / 'results.json').read_text()),
                          micro['tmp'])
