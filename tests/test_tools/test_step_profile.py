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
    # one extra step under the host-sync recorder: only the losses' finite check
    assert r['host_syncs']['per_step'] == 1
    assert len(r['host_syncs']['sites']) == 1 \
        and '(_all_finite)' in next(iter(r['host_syncs']['sites']))
    assert 'host syncs in one train_step: 1' in text


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


def test_phase_timer_counts_known_conv_flops():
    """A conv's counted FLOPs are 2 x its multiply-adds, attributed to its key only."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)
    lin = torch.nn.Linear(8, 4, bias=False)
    timer = sp.PhaseTimer(lambda: None)
    timer.module(conv, 'conv')
    x = torch.randn(2, 3, 16, 16)
    with FlopCounterMode(display=False) as counter:
        timer.flop_counter = counter
        lin(torch.randn(2, 8))  # outside any timed key, before the conv
        conv(x)
    macs = 2 * 8 * 16 * 16 * 3 * 3 * 3  # B * Cout * Ho * Wo * Cin * k * k
    assert timer.flops['conv'] == 2 * macs
    assert counter.get_total_flops() == 2 * macs + 2 * 2 * 8 * 4


def test_step_flops_per_phase_scale_with_batch(run, pretrain_tiles):
    r2, out = run
    assert json.loads(out.read_text())['flops'] == r2['flops']
    # the backbone passes and their backward do real matmul/conv work
    for p in ('student_fwd', 'teacher_fwd', 'heads_losses', 'backward'):
        assert r2['flops'][p] > 0, p
    # element-wise phases count nothing; the counting step is not timed
    assert r2['flops']['data_loading'] == 0 and r2['flops']['ema_update'] == 0
    assert r2['step_flops'] == sum(r2['flops'].values())
    # backward of the student is about twice its forward
    assert 1.5 < r2['flops']['backward'] / (r2['flops']['student_fwd'] +
                                             r2['flops']['heads_losses']) < 2.5
    assert 'tflops' not in r2 and 'GFLOP per image' in sp.format_report(r2)
    r4 = sp.main([str(TINY_CFG), '--batch-size', '4', '--iters', '1', '--warmup', '0',
                  '--data-root', str(pretrain_tiles)])
    assert r4['step_flops'] / r2['step_flops'] == pytest.approx(2.0, rel=0.1)
    assert r4['flops']['student_fwd'] == 2 * r2['flops']['student_fwd']


def test_no_flops_flag_and_peak_options(pretrain_tiles):
    argv = [str(TINY_CFG), '--batch-size', '2', '--iters', '1', '--warmup', '0',
            '--data-root', str(pretrain_tiles)]
    assert 'flops' not in sp.main([*argv, '--no-flops'])
    with pytest.raises(ValueError, match='--peak-tflops and --gpu'):
        sp.main([*argv, '--gpu', 'h100', '--peak-tflops', '100'])
    with pytest.raises(ValueError, match='--peak-tflops must be > 0'):
        sp.main([*argv, '--peak-tflops', '0'])
    assert sp.PEAK_TFLOPS == {'h100': 989.0, 'h200': 989.0}


def test_flop_rates_and_report_lines():
    flops = {p: 0 for p in PHASES}
    flops.update(student_fwd=int(4e12), backward=int(8e12))
    secs = {p: 0.0 for p in PHASES}
    secs.update(student_fwd=0.01, backward=0.04, data_loading=0.5)
    rates = sp.flop_rates(flops, secs, model_time=0.06, peak_tflops=989.0)
    assert rates['tflops']['student_fwd'] == pytest.approx(400.0)
    assert rates['tflops']['backward'] == pytest.approx(200.0)
    assert rates['tflops']['optimizer'] == 0.0
    assert rates['step_tflops'] == pytest.approx(200.0)
    assert rates['fraction_of_peak'] == pytest.approx(200.0 / 989.0)
    assert 'fraction_of_peak' not in sp.flop_rates(flops, secs, 0.06)
    r = dict(flops=flops, step_flops=sum(flops.values()), batch_size=64, model_time=0.06,
             peak_tflops=989.0, **rates)
    lines = sp._flop_lines(r)
    assert '12000.00 GFLOP, 187.50 GFLOP per image' in lines[0]
    assert lines[1].startswith('achieved: 200.00 TFLOP/s') and '20.2 % of the peak 989' in lines[1]


def test_amp_bf16_step_on_cpu(pretrain_tiles):
    argv = [str(TINY_CFG), '--batch-size', '2', '--iters', '1', '--warmup', '0',
            '--data-root', str(pretrain_tiles), '--amp', 'bf16']
    r = sp.main(argv)
    assert r['optim_wrapper'] == 'BF16AutocastOptimWrapper'
    assert r['amp'] == 'bf16' and r['phases']['backward'] > 0 and r['step_flops'] > 0
    assert sp.format_report(r).splitlines()[1].endswith('; --amp bf16')
    from mmengine.config import Config
    cfg = Config.fromfile(str(TINY_CFG))
    cfg.optim_wrapper.type = 'SkipNonFiniteOptimWrapper'
    with pytest.raises(ValueError, match="--amp bf16: the config's optim_wrapper.type is "
                       "'SkipNonFiniteOptimWrapper'"):
        sp.set_amp(cfg, 'bf16', 'cpu')
