"""Tests of tools/model_converters: extract_backbone.py, official_cmid_to_mm.py and
their shared backbone_layout.py.

The layout claims of backbone_layout.py are checked against the stock classes
of the installed packages (keys, shapes, buffers) and functionally: a Swin
moved from mmpretrain's layout to mmseg's / mmdet's gives the same stage
outputs for the same input.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path, PurePosixPath

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / 'tools' / 'model_converters'
sys.path.insert(0, str(TOOLS))

import backbone_layout as bl  # noqa: E402
import extract_backbone as eb  # noqa: E402
import official_cmid_to_mm as oc  # noqa: E402


def _load_helper():
    """tests/test_downstream/cmid_checkpoint.py (shared CMID-contract builder)."""
    spec = importlib.util.spec_from_file_location(
        'cmid_checkpoint', ROOT / 'tests' / 'test_downstream' / 'cmid_checkpoint.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ck = _load_helper()
TINY_SWIN = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


# --------------------------------------------------------------------------- layouts
@pytest.mark.parametrize('depth', [18, 50])
def test_resnet_layout_is_identical_across_packages(depth):
    spec = bl.BackboneSpec('ResNet', dict(depth=depth))
    ref = bl.build_stock(spec, 'mmpretrain').state_dict()
    for package in ('mmseg', 'mmdet'):
        other = bl.build_stock(spec, package).state_dict()
        assert list(other) == list(ref)
        assert all(other[k].shape == ref[k].shape for k in ref)
    assert bl.infer_spec(ref).params['depth'] == depth


def test_swin_layout_differs_only_by_output_norms():
    spec = bl.BackboneSpec('SwinTransformer', dict(
        **TINY_SWIN, window_size=7, patch_size=4, in_channels=3, out_indices=(3, )))
    pre = bl.build_stock(spec, 'mmpretrain').state_dict()
    assert not any(k.startswith(('norm0', 'norm1', 'norm2')) for k in pre)
    for package in ('mmseg', 'mmdet'):
        other = bl.build_stock(spec, package).state_dict()
        extra = sorted(set(other) - set(pre))
        assert extra == [f'norm{i}.{p}' for i in range(3) for p in ('bias', 'weight')]
        assert set(pre) <= set(other)
        assert all(other[k].shape == pre[k].shape for k in pre)
        # the relative position index buffers are computed identically
        idx = [k for k in pre if k.endswith('relative_position_index')]
        assert len(idx) == 8 and all(torch.equal(pre[k], other[k]) for k in idx)


def _swin_pair(package):
    """Seeded mmpretrain Swin (all four output norms) and the package's Swin."""
    from mmpretrain.models.backbones import SwinTransformer
    torch.manual_seed(0)
    src = SwinTransformer(arch=TINY_SWIN, window_size=2, out_indices=(0, 1, 2, 3),
                          pad_small_map=True)
    src.eval()  # (mmpretrain's Swin.train() returns None, so no chaining)
    # non-trivial norms and tables: random instead of the constant init
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    spec = bl.infer_spec(src.state_dict())
    dst = bl.build_stock(spec, package)
    dst.eval()
    return src, spec, dst


@pytest.mark.parametrize('package', ['mmseg', 'mmdet'])
def test_swin_conversion_gives_the_same_stage_outputs(package):
    src, spec, dst = _swin_pair(package)
    assert spec.params['window_size'] == 2 and spec.params['out_indices'] == (0, 1, 2, 3)
    converted, added, removed = bl.to_target_layout(src.state_dict(), spec, package)
    assert added == [] and removed == []
    assert bl.compare_with_module(converted, dst).ok
    dst.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = src(x), dst(x)
    assert len(a) == len(b) == 4
    for i, (u, v) in enumerate(zip(a, b)):
        assert u.shape == v.shape == (1, 16 * 2**i, 16 // 2**i, 16 // 2**i)
        torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-5)


def test_swin_cmid_weights_add_identity_output_norms():
    """A CMID Swin keeps only norm3; stages 0-2 get LayerNorm's initial values and
    the last stage output is unchanged by the move."""
    src, spec, dst = _swin_pair('mmseg')
    state = {k: v for k, v in src.state_dict().items()
             if not k.startswith(('norm0.', 'norm1.', 'norm2.'))}
    spec = bl.infer_spec(state)
    converted, added, _ = bl.to_target_layout(state, spec, 'mmseg')
    assert added == [f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')]
    assert torch.equal(converted['norm1.weight'], torch.ones(32))
    assert torch.equal(converted['norm1.bias'], torch.zeros(32))
    dst.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(src(x)[3], dst(x)[3], rtol=1e-5, atol=1e-5)


def test_swin_to_mmpretrain_leaves_out_extra_output_norms():
    """mmpretrain's classifier Swin has norm3 only; norms of stages 0-2 are left out."""
    src, spec, _ = _swin_pair('mmseg')
    converted, added, removed = bl.to_target_layout(src.state_dict(), spec, 'mmpretrain')
    assert added == [] and removed == [f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')]
    assert bl.compare_with_module(converted, bl.build_stock(spec, 'mmpretrain')).ok


# --------------------------------------------------------------------------- extract_backbone
@pytest.fixture(scope='module')
def r18_ckpt(tmp_path_factory):
    return ck.write_cmid_checkpoint(tmp_path_factory.mktemp('r18') / 'cmid.pth', 'resnet')


@pytest.fixture(scope='module')
def swin_ckpt(tmp_path_factory):
    return ck.write_cmid_checkpoint(tmp_path_factory.mktemp('swin') / 'cmid.pth', 'swin')


@pytest.mark.parametrize('target', ['mmpretrain', 'mmseg', 'mmdet', 'mmrotate'])
def test_extract_resnet_student(r18_ckpt, tmp_path, target, capsys):
    src, student = r18_ckpt
    out = tmp_path / 'backbone.pth'
    assert eb.main([str(src), str(out), '--target', target]) == 0
    assert 'all keys and shapes match' in capsys.readouterr().out
    saved = _load(out)
    sd = saved['state_dict']
    ref = student.state_dict()
    assert list(sd) == [f'backbone.{k}' for k in ref]
    assert all(torch.equal(sd[f'backbone.{k}'], v) for k, v in ref.items())
    assert 'backbone.mask_token' not in sd
    meta = saved['meta']['cmid_export']
    assert meta['branch'] == 'student' and meta['target'] == target
    assert meta['backbone_kwargs']['depth'] == 18 and meta['initialised_keys'] == []


def test_extract_teacher(r18_ckpt, tmp_path):
    src, student = r18_ckpt
    out = tmp_path / 'teacher.pth'
    assert eb.main([str(src), str(out), '--teacher']) == 0
    sd = _load(out)['state_dict']
    ref = student.state_dict()
    # the teacher was written as student + 1 (float tensors)
    torch.testing.assert_close(sd['backbone.conv1.weight'], ref['conv1.weight'] + 1)
    assert torch.equal(sd['backbone.bn1.num_batches_tracked'], ref['bn1.num_batches_tracked'])


@pytest.mark.parametrize('target,initialised', [('mmpretrain', 0), ('mmseg', 6), ('mmdet', 6)])
def test_extract_swin(swin_ckpt, tmp_path, target, initialised):
    src, student = swin_ckpt
    out = tmp_path / 'swin.pth'
    assert eb.main([str(src), str(out), '--target', target]) == 0
    saved = _load(out)
    sd = saved['state_dict']
    ref = student.state_dict()
    assert all(torch.equal(sd[f'backbone.{k}'], v) for k, v in ref.items())
    assert len(sd) == len(ref) + initialised
    assert len(saved['meta']['cmid_export']['initialised_keys']) == initialised


def test_extract_without_config_infers_the_structure(tmp_path, capsys):
    src, student = ck.write_cmid_checkpoint(tmp_path / 'nometa.pth', 'resnet', with_meta=False)
    assert eb.main([str(src), str(tmp_path / 'out.pth')]) == 0
    assert 'no readable config' in capsys.readouterr().err
    assert len(_load(tmp_path / 'out.pth')['state_dict']) == len(student.state_dict())


def test_extract_rejects_other_checkpoints(tmp_path, capsys):
    from mmpretrain.models.backbones import ResNet
    weights = {f'backbone.{k}': v for k, v in ResNet(depth=18).state_dict().items()}
    cases = {
        # a classifier checkpoint: right keys, but the config says ImageClassifier
        'cls.pth': ({'state_dict': weights,
                     'meta': {'cfg': "model = dict(type='ImageClassifier', backbone=dict())"}},
                    "model type 'ImageClassifier'"),
        # a bare state dict
        'bare.pth': (weights, 'no "state_dict" entry, found a bare state dict'),
        # backbone weights without the CMID parts
        'nomask.pth': ({'state_dict': weights, 'meta': {}},
                       "missing ['backbone.mask_token', 'teacher.module.backbone.*']"),
    }
    for name, (obj, expected) in cases.items():
        torch.save(obj, tmp_path / name)
        assert eb.main([str(tmp_path / name), str(tmp_path / 'x.pth')]) == 1
        err = capsys.readouterr().err
        assert expected in err and name in err
    assert not (tmp_path / 'x.pth').exists()
    assert eb.main([str(tmp_path / 'absent.pth'), str(tmp_path / 'x.pth')]) == 1
    assert 'no such file' in capsys.readouterr().err


def test_config_text_is_read_without_running_it(tmp_path):
    """meta['cfg'] is Python; only literals and dict(...) calls are evaluated."""
    marker = tmp_path / 'ran'
    text = (f'import pathlib\npathlib.Path({str(marker)!r}).touch()\n'
            "model = dict(type='CMID', backbone=dict(type='CMIDResNet', depth=18, "
            "out_indices=(3, )), head=dict(fn=lambda x: x, loss=dict(type='L1')))\n")
    assert eb.parse_model_cfg(text) == {
        'type': 'CMID', 'backbone': {'type': 'CMIDResNet', 'depth': 18, 'out_indices': (3, )},
        'head': {'loss': {'type': 'L1'}}}
    assert not marker.exists()
    assert eb.parse_model_cfg('model = build()') is None
    assert eb.parse_model_cfg('not python (') is None


def test_extract_reports_key_mismatch(tmp_path, capsys):
    src, _ = ck.write_cmid_checkpoint(tmp_path / 'cmid.pth', 'resnet')
    ckpt = _load(src)
    ckpt['state_dict']['backbone.extra.weight'] = torch.zeros(3)
    del ckpt['state_dict']['backbone.layer1.0.bn1.bias']
    torch.save(ckpt, src)
    assert eb.main([str(src), str(tmp_path / 'out.pth')]) == 1
    captured = capsys.readouterr()
    assert "1 missing key(s): ['layer1.0.bn1.bias']" in captured.out
    assert "1 unexpected key(s): ['extra.weight']" in captured.out
    assert 'nothing written' in captured.err
    assert not (tmp_path / 'out.pth').exists()


def test_extract_refuses_pickled_objects(tmp_path, capsys):
    src, _ = ck.write_cmid_checkpoint(tmp_path / 'cmid.pth', 'resnet')
    ckpt = _load(src)
    ckpt['meta']['work_dir'] = PurePosixPath('/work')  # any object that is not plain data
    torch.save(ckpt, src)
    assert eb.main([str(src), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert 'weights_only=True' in err
    assert 'it holds an object of type pathlib.PurePosixPath' in err


def test_extract_cli_exit_status(r18_ckpt, tmp_path):
    """The script's exit status (the success path runs in-process above)."""
    src, _ = r18_ckpt
    torch.save({'state_dict': {}, 'meta': {}}, tmp_path / 'empty.pth')
    bad = subprocess.run([sys.executable, str(TOOLS / 'extract_backbone.py'),
                          str(tmp_path / 'empty.pth'), str(tmp_path / 'p.pth')],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert 'not a CMID checkpoint' in bad.stderr
    assert not (tmp_path / 'p.pth').exists()


def test_exported_file_loads_with_pretrained_prefix(r18_ckpt, tmp_path):
    """mmengine's Pretrained init with prefix='backbone.' finds every weight."""
    from mmengine.runner.checkpoint import _load_checkpoint_with_prefix
    src, student = r18_ckpt
    out = tmp_path / 'b.pth'
    assert eb.main([str(src), str(out)]) == 0
    state = _load_checkpoint_with_prefix('backbone.', str(out))
    assert set(state) == set(student.state_dict())


# --------------------------------------------------------------------------- official converter
def _reference_resnet50_model_state() -> tuple[OrderedDict, dict, dict]:
    """``model`` of a reference ResNet-50 checkpoint (MoCoBased state dict).

    timm's ``resnet50`` and torchvision's share their key names and shapes;
    torchvision's builds the architecture here (timm is not a dependency).
    ``num_classes=0`` in the reference means no ``fc``.
    """
    from torchvision.models import resnet50
    torch.manual_seed(0)
    online = {k: v for k, v in resnet50().state_dict().items() if not k.startswith('fc.')}
    momentum = {k: v + 1 if v.is_floating_point() else v for k, v in online.items()}
    sd = OrderedDict()
    sd.update({f'online_encoder.model.{k}': v for k, v in online.items()})
    sd['online_encoder.mask_token'] = torch.zeros(1, 64, 1, 1)
    sd.update({f'branch_encoder.{k}': v for k, v in momentum.items()})
    sd['mim2org.conv.weight'] = torch.zeros(3 * 32 * 32, 2048, 1, 1)
    for head in ('online_projector', 'branch_projector'):
        sd[f'{head}.layers.0.weight'] = torch.zeros(4096, 2048)
        sd[f'{head}.layers.2.weight'] = torch.zeros(256, 4096)
    for head in ('class_projector', 'branch_class_projector'):
        sd[f'{head}.mlp.0.weight'] = torch.zeros(4096, 2048, 1)
        sd[f'{head}.last_layer.weight_g'] = torch.ones(8, 1, 1)
    sd['queue'] = torch.zeros(256, 64)
    sd['queue_ptr'] = torch.zeros(1, dtype=torch.long)
    sd['class_loss.center'] = torch.zeros(1, 8, 1)
    return sd, online, momentum


def _reference_swin_backbone_state(arch: dict, window: int = 7) -> OrderedDict:
    """Keys and shapes of the reference's Swin (mmcls 0.x copy in
    official-CMID Pretrain/models/swin_transformer.py, out_indices=(3,)),
    generated from the architecture: PatchEmbed(Conv2d k4 s4, LN), per stage
    blocks of (norm1, attn.w_msa.{relative_position_bias_table,
    relative_position_index, qkv, proj}, norm2, ffn.layers.{0.0,1}) and a
    PatchMerging(LN(4C), Linear(4C, 2C, bias=False)) at the end of stages 0-2,
    then norm3."""
    g = torch.Generator().manual_seed(0)
    c = arch['embed_dims']
    sd = OrderedDict()

    def add(name, *shape):
        sd[name] = torch.randn(*shape, generator=g)

    add('patch_embed.projection.weight', c, 3, 4, 4)
    add('patch_embed.projection.bias', c)
    add('patch_embed.norm.weight', c)
    add('patch_embed.norm.bias', c)
    # WindowMSA.relative_position_index as the reference computes it (double_step_seq)
    seq = (torch.arange(0, (2 * window - 1) * window, 2 * window - 1)[:, None]
           + torch.arange(window)[None, :]).reshape(1, -1)
    index = (seq + seq.T).flip(1).contiguous()
    n = len(arch['depths'])
    for i, (depth, heads) in enumerate(zip(arch['depths'], arch['num_heads'])):
        dim = c * 2**i
        for j in range(depth):
            p = f'stages.{i}.blocks.{j}.'
            add(p + 'norm1.weight', dim)
            add(p + 'norm1.bias', dim)
            add(p + 'attn.w_msa.relative_position_bias_table', (2 * window - 1)**2, heads)
            sd[p + 'attn.w_msa.relative_position_index'] = index.clone()
            add(p + 'attn.w_msa.qkv.weight', 3 * dim, dim)
            add(p + 'attn.w_msa.qkv.bias', 3 * dim)
            add(p + 'attn.w_msa.proj.weight', dim, dim)
            add(p + 'attn.w_msa.proj.bias', dim)
            add(p + 'norm2.weight', dim)
            add(p + 'norm2.bias', dim)
            add(p + 'ffn.layers.0.0.weight', 4 * dim, dim)
            add(p + 'ffn.layers.0.0.bias', 4 * dim)
            add(p + 'ffn.layers.1.weight', dim, 4 * dim)
            add(p + 'ffn.layers.1.bias', dim)
        if i < n - 1:
            add(f'stages.{i}.downsample.norm.weight', 4 * dim)
            add(f'stages.{i}.downsample.norm.bias', 4 * dim)
            add(f'stages.{i}.downsample.reduction.weight', 2 * dim, 4 * dim)
    add(f'norm{n - 1}.weight', c * 2**(n - 1))
    add(f'norm{n - 1}.bias', c * 2**(n - 1))
    return sd


def _reference_full_checkpoint(model_state: dict, path: Path) -> None:
    """Save as the reference Trainer does, with its MetricStroge / HistoryBuffer
    objects pickled under their real module names."""
    import types
    from collections import deque
    names = ['Exploring', 'Exploring.utils', 'Exploring.utils.metric',
             'Exploring.utils.history_buffer']
    mods = {name: types.ModuleType(name) for name in names}

    class HistoryBuffer:
        def __init__(self):
            self._history = deque([0.5, 0.25], maxlen=20)
            self._count, self._sum = 2, 0.75

    class MetricStroge(dict):
        def __init__(self):
            super().__init__()
            self._window_size = 20
            self._smooth = {'total_loss': True}
            self._latest_iter = {'total_loss': 1}
            self['total_loss'] = HistoryBuffer()

    HistoryBuffer.__module__ = 'Exploring.utils.history_buffer'
    HistoryBuffer.__qualname__ = 'HistoryBuffer'
    MetricStroge.__module__ = 'Exploring.utils.metric'
    MetricStroge.__qualname__ = 'MetricStroge'
    mods['Exploring.utils.history_buffer'].HistoryBuffer = HistoryBuffer
    mods['Exploring.utils.metric'].MetricStroge = MetricStroge
    sys.modules.update(mods)
    try:
        torch.save({'epoch': 199, 'num_gpus': 4, 'model': model_state,
                    'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-6}]},
                    'metric_storage': MetricStroge(),
                    'hooks': {'CheckpointerHook': {'_period': 1, '_max_to_keep': None,
                                                   '_recent_checkpoints': []}}}, path)
    finally:
        for name in names:
            del sys.modules[name]


@pytest.fixture(scope='module')
def reference_r50(tmp_path_factory):
    sd, online, momentum = _reference_resnet50_model_state()
    path = tmp_path_factory.mktemp('ref') / 'cmid_resnet50_ref.pth'
    _reference_full_checkpoint(sd, path)
    return path, online, momentum


@pytest.mark.parametrize('target', ['mmpretrain', 'mmseg'])
def test_official_resnet50_roundtrip(reference_r50, tmp_path, target, capsys):
    path, online, _ = reference_r50
    out = tmp_path / 'r50.pth'
    assert oc.main([str(path), str(out), '--target', target]) == 0
    assert 'online_encoder.model.* -> ResNet(depth=50' in capsys.readouterr().out
    sd = _load(out)['state_dict']
    assert list(sd) == [f'backbone.{k}' for k in online]
    assert all(torch.equal(sd[f'backbone.{k}'], v) for k, v in online.items())
    # and the exported file is what extract_backbone writes: stock keys, nothing else
    model = bl.build_stock(bl.BackboneSpec('ResNet', dict(depth=50)), target)
    model.load_state_dict({k[len('backbone.'):]: v for k, v in sd.items()}, strict=True)
    torch.testing.assert_close(model.state_dict()['layer4.2.conv3.weight'],
                               online['layer4.2.conv3.weight'])


def test_official_momentum_branch(reference_r50, tmp_path):
    path, _, momentum = reference_r50
    out = tmp_path / 'm.pth'
    assert oc.main([str(path), str(out), '--branch', 'momentum']) == 0
    sd = _load(out)['state_dict']
    assert torch.equal(sd['backbone.layer1.0.conv1.weight'], momentum['layer1.0.conv1.weight'])


def test_official_backbone_only_resnet(tmp_path):
    _, online, _ = _reference_resnet50_model_state()
    torch.save(online, tmp_path / 'bb.pth')  # the released "Backbone Only" style
    assert oc.main([str(tmp_path / 'bb.pth'), str(tmp_path / 'o.pth')]) == 0
    assert len(_load(tmp_path / 'o.pth')['state_dict']) == len(online)


@pytest.mark.parametrize('target,extra', [('mmpretrain', 0), ('mmdet', 6)])
def test_official_swin_roundtrip(tmp_path, target, extra):
    arch = dict(embed_dims=16, depths=[2, 2, 4, 2], num_heads=[1, 2, 4, 8])
    bb = _reference_swin_backbone_state(arch)
    model_state = OrderedDict((f'online_encoder.model.{k}', v) for k, v in bb.items())
    model_state['online_encoder.mask_token'] = torch.zeros(1, 1, 16)
    model_state.update((f'branch_encoder.{k}', v) for k, v in bb.items())
    model_state['mim2org.conv.weight'] = torch.zeros(3072, 128, 1, 1)
    src = tmp_path / 'ref_swin.pth'
    _reference_full_checkpoint(model_state, src)
    out = tmp_path / 'swin.pth'
    report = oc.convert(src, out, target)
    assert report['ok'], (report['source_check'].describe(), report['target_check'].describe())
    assert report['spec'].params == dict(**arch, window_size=7, patch_size=4, in_channels=3,
                                         out_indices=(3, ))
    sd = _load(out)['state_dict']
    assert len(sd) == len(bb) + extra
    assert all(torch.equal(sd[f'backbone.{k}'], v) for k, v in bb.items())
    # loads strictly into the target's stock Swin, whose own index buffers are the same
    model = bl.build_stock(report['spec'], target)
    key = 'stages.2.blocks.3.attn.w_msa.relative_position_index'
    assert torch.equal(model.state_dict()[key], sd[f'backbone.{key}'])
    model.load_state_dict({k[len('backbone.'):]: v for k, v in sd.items()}, strict=True)


def test_official_rejects_unknown(tmp_path, capsys):
    torch.save({'model': {'encoder_q.conv1.weight': torch.zeros(1)}}, tmp_path / 'x.pth')
    assert oc.main([str(tmp_path / 'x.pth'), str(tmp_path / 'y.pth')]) == 1
    err = capsys.readouterr().err
    assert 'not a reference CMID checkpoint' in err and "'encoder_q.conv1': 1" in err
