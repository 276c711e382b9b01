"""eval_frozen.py end to end (micro) and the loading of backbone weights it relies on."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from cmid_mm.evaluation.frozen_model import backbone_weights, build_frozen_model

REPO = Path(__file__).resolve().parents[2]
CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'


def _cli():
    spec = importlib.util.spec_from_file_location(
        'eval_frozen', REPO / 'tools/analysis_tools/eval_frozen.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def cfg():
    from mmengine.config import Config
    return Config.fromfile(str(CFG))


def test_build_frozen_model_loads_student_or_teacher(cfg, tmp_path):
    src = build_frozen_model(cfg, seed=1)
    state = src.state_dict()
    with torch.no_grad():  # make the teacher differ from the student
        for k in state:
            if k.startswith('teacher.module.backbone.') and k.endswith('conv1.weight'):
                state[k] = state[k] + 1.
    torch.save({'state_dict': state}, tmp_path / 'full.pth')
    torch.save(backbone_weights(state), tmp_path / 'bare.pth')
    key = 'conv1.weight'
    for path, teacher, want in ((tmp_path / 'full.pth', False, state['backbone.' + key]),
                                (tmp_path / 'bare.pth', False, state['backbone.' + key]),
                                (tmp_path / 'full.pth', True,
                                 state['teacher.module.backbone.' + key])):
        m = build_frozen_model(cfg, path, teacher=teacher, seed=0)
        torch.testing.assert_close(m.backbone.state_dict()[key], want)
        assert not m.training and not any(p.requires_grad for p in m.parameters())
    rand = build_frozen_model(cfg, seed=0)
    assert not torch.equal(rand.backbone.state_dict()[key], state['backbone.' + key])
    with pytest.raises(KeyError, match='teacher.module.backbone'):
        build_frozen_model(cfg, tmp_path / 'bare.pth', teacher=True)
    extra = {**state, 'backbone.foo': torch.zeros(1)}  # weights of another architecture
    torch.save({'state_dict': extra}, tmp_path / 'extra.pth')
    with pytest.raises(KeyError, match=r"unexpected \['foo'\]"):
        build_frozen_model(cfg, tmp_path / 'extra.pth')
    short = {k: v for k, v in state.items() if k != 'backbone.conv1.weight'}
    torch.save({'state_dict': short}, tmp_path / 'short.pth')
    with pytest.raises(KeyError, match=r"missing \['conv1.weight'\]"):
        build_frozen_model(cfg, tmp_path / 'short.pth')


def test_cli_micro_end_to_end(tmp_path):
    cli = _cli()
    out = tmp_path / 'r.json'
    r = cli.main([str(CFG), '--random-init', '--micro', '--bn-recalib', '1',
                  '--bn-batch-size', '4', '--scene-sets', 's2_cls', '--dense-sets', 'cloud_seg',
                  '--scene-size', '32', '--dense-size', '64', '--out', str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(r))
    assert r['branch'] == 'random init' and r['bn_recalib']['batches'] == 1
    s2 = r['scene']['s2_cls']
    assert s2['classes'] == ['bare_built', 'vegetation', 'water'] and s2['val'] == 33
    for block in (s2, r['color']['s2_cls']):
        assert 0 <= block['knn_top1'] <= 100 and 0 <= block['linear_top1'] <= 100
    d = r['dense']['cloud_seg']
    assert d['feature_shape'] == [512, 2, 2] and len(d['per_class_iou']) == 2
    assert 0 < d['miou'] < 100
    assert r['dense_color']['cloud_seg']['feature_shape'] == [3, 64, 64]


def test_cli_argument_errors():
    cli = _cli()
    for argv in ([str(CFG)], [str(CFG), 'x.pth', '--random-init'],
                 [str(CFG), '--random-init', '--teacher'],
                 [str(CFG), '--random-init', '--bn-recalib', '-1']):
        with pytest.raises(SystemExit):
            cli.parse_args(argv)
