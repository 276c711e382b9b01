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


# --------------------------------------------------------------------------- ssl_compare rows
def _run_backbone(path: Path, width: int, seed: int, mask_token: bool = False) -> dict:
    """A benchmark run's ``backbone.pth`` (what ``child_run.train_one`` saves): the flat,
    unprefixed state of a ResNet-18 of ``width`` (CMID's and SimMIM's carry a mask token)."""
    from cmid_mm.models.backbones import CMIDResNet
    torch.manual_seed(seed)
    net = CMIDResNet(depth=18, stem_channels=width, base_channels=width)
    state = {k: (v + torch.randn_like(v) if v.is_floating_point() else v)
             for k, v in net.state_dict().items() if mask_token or k != 'mask_token'}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def _ssl_dir(root: Path, method: str, seeds, width: int = 16, **kw) -> Path:
    for s in seeds:
        _run_backbone(root / dc.SSL_BACKBONE / method / f'seed{s}' / 'backbone.pth', width,
                      seed=100 * s + len(method), **kw)
    return root


@pytest.fixture(scope='module')
def micro_runs(tmp_path_factory):
    """A micro run whose pretrained row is a width-16 benchmark-run checkpoint (DenseCL)."""
    tmp = tmp_path_factory.mktemp('downstream_runs')
    w = _ssl_dir(tmp / 'ssl', 'densecl', [0])
    res = dc.main(['--ssl-compare-dirs', str(w), '--methods', 'densecl', '--micro',
                   '--work-dir', str(tmp / 'dc')])
    return dict(tmp=tmp, res=res, src=w / 'resnet18' / 'densecl' / 'seed0' / 'backbone.pth')


def test_run_checkpoint_row_loads_at_its_width(micro_runs):
    """The run's backbone.pth is mapped into mmseg's ResNet, the leaf config (random row
    too) takes its width 16, and the fine-tune loads every tensor."""
    results = micro_runs['res']['results']
    assert list(results) == ['random', 'densecl']
    src = torch.load(micro_runs['src'], map_location='cpu', weights_only=True)
    init_file = Path(results['densecl']['init_file'])
    exported = torch.load(init_file, map_location='cpu', weights_only=True)['state_dict']
    assert set(exported) == {'backbone.' + k for k in src}
    for k, v in src.items():
        torch.testing.assert_close(exported['backbone.' + k], v)
    for init in ('random', 'densecl'):
        text = Path(results[init]['config']).read_text()
        assert "'stem_channels': 16" in text and "'base_channels': 16" in text, text
        assert "'decode_head': {'in_channels': 128}" in text, text
        assert "'auxiliary_head': {'in_channels': 64}" in text, text
    line = results['densecl']['runs'][0]['load_check']
    m = re.search(r'(\d+) of (\d+) tensors loaded from (\S+)', line[0])
    assert m and m.group(1) == m.group(2) and int(m.group(2)) >= 60, line
    assert micro_runs['res']['meta']['width'] == 16
    table = (micro_runs['tmp'] / 'dc' / 'results.md').read_text()
    assert '| DenseCL |' in table and 'backbone width 16' in table
    assert 'pretraining seed = fine-tune seed' in table


def test_paired_and_fixed_pretraining_seeds(tmp_path):
    """Fine-tune seed s starts from pretraining seed s; --pretrain-seed K from K for all."""
    w0 = _ssl_dir(tmp_path / 'w0', 'cmid', [0], mask_token=True)
    w12 = _ssl_dir(tmp_path / 'w12', 'cmid', [1, 2], mask_token=True)
    args = dc.parse_args(['--ssl-compare-dirs', str(w0), str(w12), '--methods', 'cmid',
                          '--seeds', '0', '1', '2'])
    inits = dc.resolve_inits(args, tmp_path / 'work')
    assert inits['random'] == {0: None, 1: None, 2: None}
    for seed, f in inits['cmid'].items():
        meta = torch.load(f, map_location='cpu', weights_only=True)['meta']['cmid_export']
        assert meta['source'].endswith(f'cmid/seed{seed}/backbone.pth'), meta['source']
        assert meta['dropped_keys'] == ['mask_token']
    args = dc.parse_args(['--ssl-compare-dirs', str(w12), '--methods', 'cmid',
                          '--seeds', '0', '1', '--pretrain-seed', '2'])
    inits = dc.resolve_inits(args, tmp_path / 'work2')
    assert inits['cmid'][0] == inits['cmid'][1]
    src = torch.load(inits['cmid'][0], map_location='cpu', weights_only=True)['meta']
    assert src['cmid_export']['source'].endswith('cmid/seed2/backbone.pth')
    # a seed no dir has is named with every path tried
    args = dc.parse_args(['--ssl-compare-dirs', str(w12), '--methods', 'cmid', '--seeds', '0'])
    with pytest.raises(FileNotFoundError, match=r'seed-0.*w12/resnet18/cmid/seed0/backbone'):
        dc.resolve_inits(args, tmp_path / 'work3')


def test_different_widths_refused(tmp_path):
    w = _ssl_dir(tmp_path / 'w', 'mocov2', [0], width=16)
    _ssl_dir(w, 'simmim', [0], width=8, mask_token=True)
    args = dc.parse_args(['--ssl-compare-dirs', str(w), '--methods', 'mocov2', 'simmim',
                          '--seeds', '0'])
    inits = dc.resolve_inits(args, tmp_path / 'work')
    with pytest.raises(ValueError, match=r'different widths.*mocov2_seed0_mmseg.pth: 16.*'
                       r'simmim_seed0_mmseg.pth: 8'):
        dc.common_width(inits)


@pytest.mark.parametrize('argv, msg', [
    (['--init', 'cmid'], 'expected METHOD=FILE'),
    (['--init', 'nosuch=x.pth'], "unknown method 'nosuch'"),
    (['--cmid-ckpt', 'a.pth', '--init', 'cmid=b.pth'], 'cmid given twice'),
    (['--methods', 'cmid'], '--ssl-compare-dirs and --methods go together'),
    (['--pretrain-seed', '1'], '--pretrain-seed needs --ssl-compare-dirs'),
])
def test_bad_init_arguments(argv, msg, capsys):
    with pytest.raises(SystemExit):
        dc.parse_args(argv)
    assert msg in capsys.readouterr().err
