"""Where the photometric ops run (cmid_mm/utils/view_placement.py, tools/train.py --views,
tools/analysis_tools/pipeline_cost.py): moving them keeps the recipe, on the shipped
configs."""
from __future__ import annotations

import argparse
import copy

import pytest
from mmengine.config import Config

from cmid_mm.utils import photometric_placement, place_photometric
from tests.helpers import REPO

CMID = REPO / 'configs/cmid'
DEVICE = ['cmid_resnet50_4xb64-adan-200e_s2-13band.py',
          'cmid_swin-base_4xb64-adan-200e_millionaid.py']
WORKER = ['cmid_resnet18_1xb32-adan-20e_s2-13band-128.py',
          'cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py']


def _views(cfg):
    return next(t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'CMIDMultiView')['view_pipelines']


def _load(cfg):
    return next(t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'LoadRSImage')


@pytest.mark.parametrize('name', DEVICE + WORKER)
def test_round_trip_keeps_the_recipe(name):
    cfg = Config.fromfile(str(CMID / name))
    start = photometric_placement(cfg)
    assert start == ('device' if name in DEVICE else 'worker')
    ops = _views(cfg)[1] or cfg.model.data_preprocessor.view_batch_augments[1]
    other = 'worker' if start == 'device' else 'device'
    moved = place_photometric(copy.deepcopy(cfg), other)
    assert photometric_placement(moved) == other
    if other == 'worker':
        assert _views(moved)[1] == ops and 'view_batch_augments' not in \
            moved.model.data_preprocessor
    else:
        assert _views(moved) == [[], []]
        assert moved.model.data_preprocessor.view_batch_augments[1] == ops
    back = place_photometric(moved, start)
    assert _views(back) == _views(cfg)
    assert back.model.data_preprocessor.get('view_batch_augments') == \
        cfg.model.data_preprocessor.get('view_batch_augments')
    assert back.model.data_preprocessor.get('uint16_scale') == \
        cfg.model.data_preprocessor.get('uint16_scale')
    assert {k: _load(back).get(k) for k in ('uint16_scale', 'to_float32')} == \
        {k: _load(cfg).get(k) for k in ('uint16_scale', 'to_float32')}


def test_the_uint16_scaling_moves_with_the_ops():
    cfg = Config.fromfile(str(CMID / DEVICE[0]))
    assert _load(cfg).get('uint16_scale') in (None, 'none')
    worker = place_photometric(cfg, 'worker')
    assert _load(worker)['uint16_scale'] == 10000 and _load(worker)['to_float32']
    assert 'uint16_scale' not in worker.model.data_preprocessor


def test_ops_in_both_places_or_without_a_batched_version_are_refused():
    cfg = Config.fromfile(str(CMID / DEVICE[0]))
    _views(cfg)[1] = [dict(type='RSSolarize')]
    with pytest.raises(ValueError, match=r'view 1 has photometric ops both in the workers'):
        place_photometric(cfg, 'device')
    cfg = Config.fromfile(str(CMID / WORKER[1]))
    _views(cfg)[1].append(dict(type='RandomGrayscale', prob=0.2))
    with pytest.raises(ValueError, match=r"view_pipelines\[1\]\[5\] is 'RandomGrayscale', "
                                         'which has no batched version'):
        place_photometric(cfg, 'device')
    with pytest.raises(ValueError, match="one of \\('worker', 'device'\\), got 'gpu'"):
        place_photometric(cfg, 'gpu')


def test_train_tool_views_flag():
    from tools.train import merge_args
    cfg = Config.fromfile(str(CMID / DEVICE[0]))
    args = argparse.Namespace(no_validate=False, launcher='none', work_dir='/tmp/x',
                              amp=False, resume=None, auto_scale_lr=False, no_pin_memory=False,
                              no_persistent_workers=False, cfg_options=None, views='worker',
                              config=str(CMID / DEVICE[0]))
    cfg = merge_args(cfg, args)
    assert photometric_placement(cfg) == 'worker' and _views(cfg)[1]


def test_pipeline_cost_tool_measures_both_paths(capsys):
    """The worker path runs the ops per image; the device path leaves uint16 to the device
    and times the batched ops there."""
    from tools.analysis_tools.pipeline_cost import main
    cfg = str(CMID / DEVICE[0])
    worker = main([cfg, '--views', 'worker', '--images', '2', '--repeats', '1',
                   '--batch-size', '2'])
    device = main([cfg, '--views', 'device', '--images', '2', '--repeats', '1',
                   '--batch-size', '2'])
    assert worker['worker']['dtype'] == 'torch.float32' and worker['device_ops'] is None
    assert device['worker']['dtype'] == 'torch.uint16'
    assert device['worker']['sample_bytes'] * 2 == worker['worker']['sample_bytes']
    assert device['device_ops']['ms_per_image'] > 0
    assert set(device['worker']['steps']) == {'LoadRSImage', 'Resize', 'CMIDMultiView',
                                              'PackInputs'}
    assert 'worker(s) per GPU' in capsys.readouterr().out
