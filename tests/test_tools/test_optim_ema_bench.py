"""tools/analysis_tools/optim_ema_bench.py on the tiny CMID config (structure, not speed)."""
from pathlib import Path

import pytest

from tools.analysis_tools import optim_ema_bench as ob

REPO = Path(__file__).resolve().parents[2]
TINY_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'


def test_both_modes_timed_on_the_real_parameter_set():
    r = ob.main([str(TINY_CFG), '--rounds', '1', '--warmup', '0'])
    for mode in ('loop', 'foreach'):
        assert set(r[mode]) == {'optimizer', 'ema', 'total'}
        assert r[mode]['optimizer'] > 0 and r[mode]['ema'] > 0
        assert r[mode]['total'] == pytest.approx(r[mode]['optimizer'] + r[mode]['ema'])
    assert r['ratio']['total'] == pytest.approx(r['loop']['total'] / r['foreach']['total'])
    # ResNet-18 student + projector + local head of the tiny config: millions, > 50 tensors
    assert r['params'] > 1e6 and r['tensors'] > 50
    assert 'loop / foreach' in ob.format_report(r)


def test_refuses_a_loop_only_teacher(tmp_path):
    cfg = tmp_path / 'loop_teacher.py'
    cfg.write_text(f"_base_ = '{TINY_CFG}'\n"
                   "model = dict(teacher=dict(_delete_=True, type='CosineEMA', momentum=0.01))\n")
    with pytest.raises(ValueError, match='model.teacher.type must be ForeachCosineEMA'):
        ob.bench(str(cfg), rounds=1)
