"""tools/analysis_tools/step_profile.py on two real steps of the tiny CMID config."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.analysis_tools import step_profile as sp
from tools.benchmark.ssl_compare import CONFIGS as SSL_CONFIGS

REPO = Path(__file__).resolve().parents[2]
TINY_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'

PHASES = ['data_loading', 'preprocess', 'student_fwd', 'teacher_fwd', 'ema_update',
          'heads_losses', 'backward', 'optimizer']


@pytest.fixture(scope='module')
def run(tmp_path_factory, pretrain_tiles):
    out = tmp_path_factory.mktemp('step_profile') / 'profile.json'
    argv = [str(TINY_CFG), '--batch-size', '2', '--iters', '2', '--warmup', '1',
            '--data-root', str(pretrain_tiles), '--json', str(out)]
    return sp.main(argv), out


def test_every_phase_is_timed(run):
    r, _ = run
    assert list(r['phases']) == PHASES
    assert all(r['phases'][p] >= 0 for p in PHASES)
    # the parts that do real work on every step take measurable time
    for p in ('data_loading', 'student_fwd', 'teacher_fwd', 'heads_losses', 'backward',
              'optimizer'):
        assert r['phases'][p] > 0, p
    assert r['sum_of_parts'] == pytest.approx(sum(r['phases'].values()))
    assert r['full_step'] > 0 and r['ratio'] == pytest.approx(r['full_step'] / r['sum_of_parts'])
    assert r['peak_memory_mib'] > 0 and r['memory_kind'] == 'peak RSS'
    assert r['image_size'] == [128, 128] and r['batch_size'] == 2 and r['iters'] == 2


def test_call_counts_and_teacher_checks(run):
    r, _ = run
    # two masked student passes, two teacher passes, one EMA update per step
    assert r['calls']['student_fwd'] == 2 and r['calls']['teacher_fwd'] == 2
    assert r['calls']['ema_update'] == 1 and r['calls']['preprocess'] == 1
    assert r['calls']['backward'] == 1
    # decoder x2, MIM loss x2, projector x2 + teacher x2, the global head's symmetric
    # cross-view loss x1 (both view orders in one call), local head x2 + teacher x2,
    # local loss x2
    assert r['calls']['heads_losses'] == 15
    assert r['checks'] == dict(teacher_passes_without_autograd=True, teacher_params_frozen=True,
                               student_passes_per_iter=2, teacher_passes_per_iter=2)


def test_report_and_json(run):
    r, out = run
    assert json.loads(out.read_text())['phases'] == pytest.approx(r['phases'])
    text = sp.format_report(r)
    for label, _ in sp.PHASES.values():
        assert label in text
    assert 'ratio full step / sum of parts' in text and 'peak RSS' in text


def test_rejects_non_cmid_config(tmp_path):
    cfg = SSL_CONFIGS / 'mocov2_resnet18_s2-tiles-128.py'
    with pytest.raises(ValueError, match="model type is 'MoCo'"):
        sp.profile(str(cfg), batch_size=2, iters=1)


def test_views_flag_moves_the_photometric_ops(pretrain_tiles):
    """--views device runs the strong view's ops batched in the preprocess phase."""
    argv = [str(TINY_CFG), '--batch-size', '2', '--iters', '1', '--warmup', '0',
            '--data-root', str(pretrain_tiles)]
    worker = sp.main(argv)
    device = sp.main([*argv, '--views', 'device'])
    assert worker['views'] == 'worker' and device['views'] == 'device'
    assert sp.format_report(device).splitlines()[1].endswith('preprocess phase (device)')
