"""tools/benchmark/multispectral_probe.py in its micro setting: the variants are the recipes
they name, and the table's parts add up to loss_rec."""
from __future__ import annotations

import json

import pytest
from mmengine.config import Config

from tests.test_tools.golden_tables import assert_same_as_before, section
from tools.benchmark import multispectral_probe as mp


@pytest.fixture(scope='module')
def micro(tmp_path_factory):
    work = tmp_path_factory.mktemp('probe_micro')
    results = mp.main(['--micro', '--variants', 'baseline', 'band_space', 'rec_only',
                       '--work-dir', str(work)])
    return results, work


def _strong_view(path) -> dict:
    cfg = Config.fromfile(str(path))
    ops = next(t for t in cfg.train_dataloader.dataset.pipeline
               if t['type'] == 'CMIDMultiView')['view_pipelines'][1]
    return cfg, {t['type']: t for t in ops}


def test_variants_are_the_recipes_they_name(micro):
    _, work = micro
    cfg, old = _strong_view(work / 'baseline/config.py')
    assert 'band_mean' not in old['RSColorJitter'] and 'band_mean' not in old['RSGaussNoise']
    assert tuple(old['RSGaussNoise']['var_limit']) == (0.064, 0.32)
    assert 'band_mean' in old['RSSolarize'] and cfg.model.log_rec_parts
    _, new = _strong_view(work / 'band_space/config.py')
    assert new['RSColorJitter']['band_std'] == cfg.band_std
    assert tuple(new['RSGaussNoise']['var_limit']) == (10., 50.)
    text = (work / 'rec_only/config.py').read_text()
    assert "'loss_global': 0.0, 'loss_local': 0.0" in text


def test_table_parts_add_up(micro):
    results, work = micro
    assert list(results['runs']) == ['baseline', 'band_space', 'rec_only']
    for run in results['runs'].values():
        for part in ('first', 'last'):
            r = run[part]
            assert r['rec_pix'] + r['rec_freq'] == pytest.approx(r['loss_rec'], rel=1e-4)
            bands = sum(v for k, v in r.items() if k.startswith(('rec_pix_', 'rec_freq_')))
            assert bands == pytest.approx(r['loss_rec'], rel=1e-3)
    body = (work / 'probe.md').read_text()
    assert '| baseline | old recipe' in body and 'B10' in body


def test_table_and_results_as_before_the_move(micro):
    """The table and results.json of this micro run equal the ones of the tool before the
    orchestration moved into cmid_mm.benchmark (timings, dates masked)."""
    _, work = micro
    assert_same_as_before('multispectral_probe', section((work / 'probe.md').read_text(),
                                                         *mp.MARKERS),
                          json.loads((work / 'results.json').read_text()), work)
