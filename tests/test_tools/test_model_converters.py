"""tools/model_converters: extract_backbone.py and official_cmid_to_mm.py, thin
commands over cmid_mm.export (its layout rules are tested in tests/test_export).

The CMID checkpoints are the real model's (tests.helpers.write_cmid_checkpoint);
the reference implementation's are rebuilt from its documented layout.
"""
from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict
from pathlib import Path, PurePosixPath

import pytest
import torch

from cmid_mm.export import BackboneSpec, build_stock, convert, parse_model_cfg
from cmid_mm.utils import safe_load_checkpoint
from tests.helpers import write_cmid_checkpoint
from tools.model_converters import extract_backbone as eb
from tools.model_converters import official_cmid_to_mm as oc

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / 'tools' / 'model_converters'
TINY_SWIN = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])


def _load(path):
    return safe_load_checkpoint(path)


def _stock(state: dict) -> dict:
    """A CMID backbone's state dict without its mask token (= the stock class's keys)."""
    return {k: v for k, v in state.items() if k != 'mask_token'}


# --------------------------------------------------------------------------- extract_backbone
@pytest.fixture(scope='module')
def r18_ckpt(tmp_path_factory):
    return write_cmid_checkpoint(tmp_path_factory.mktemp('r18') / 'cmid.pth', 'resnet', depth=18)


@pytest.fixture(scope='module')
def swin_ckpt(tmp_path_factory):
    return write_cmid_checkpoint(tmp_path_factory.mktemp('swin') / 'cmid.pth', 'swin',
                                 arch=TINY_SWIN)


@pytest.mark.parametrize('target', ['mmpretrain', 'mmseg', 'mmdet', 'mmrotate'])
def test_extract_resnet_student(r18_ckpt, tmp_path, target, capsys):
    src, student = r18_ckpt
    out = tmp_path / 'backbone.pth'
    assert eb.main([str(src), str(out), '--target', target]) == 0
    assert 'all keys and shapes match' in capsys.readouterr().out
    saved = _load(out)
    sd = saved['state_dict']
    ref = _stock(student.state_dict())
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
    ref = _stock(student.state_dict())
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
    ref = _stock(student.state_dict())
    assert all(torch.equal(sd[f'backbone.{k}'], v) for k, v in ref.items())
    assert len(sd) == len(ref) + initialised
    assert len(saved['meta']['cmid_export']['initialised_keys']) == initialised


def test_extract_without_config_infers_the_structure(tmp_path, capsys):
    src, student = write_cmid_checkpoint(tmp_path / 'nometa.pth', 'resnet', with_meta=False,
                                         depth=18)
    assert eb.main([str(src), str(tmp_path / 'out.pth')]) == 0
    assert 'no readable config' in capsys.readouterr().err
    assert len(_load(tmp_path / 'out.pth')['state_dict']) == len(_stock(student.state_dict()))


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
    assert parse_model_cfg(text) == {
        'type': 'CMID', 'backbone': {'type': 'CMIDResNet', 'depth': 18, 'out_indices': (3, )},
        'head': {'loss': {'type': 'L1'}}}
    assert not marker.exists()
    assert parse_model_cfg('model = build()') is None
    assert parse_model_cfg('not python (') is None


def test_extract_reports_key_mismatch(tmp_path, capsys):
    src, _ = write_cmid_checkpoint(tmp_path / 'cmid.pth', 'resnet', depth=18)
    ckpt = _load(src)
    ckpt['state_dict']['backbone.extra.weight'] = torch.zeros(3)
    del ckpt['state_dict']['backbone.layer1.0.bn1.bias']
    torch.save(ckpt, src)
    assert eb.main([str(src), str(tmp_path / 'out.pth')]) == 1
    captured = capsys.readouterr()
    # both checks of the one export path report it: the source class, then the target's
    mismatch = "1 missing key(s): ['layer1.0.bn1.bias']; 1 unexpected key(s): ['extra.weight']"
    assert f'vs stock mmpretrain ResNet (checkpoint config): {mismatch}' in captured.out
    assert f'vs stock mmpretrain ResNet: {mismatch}' in captured.out
    assert 'nothing written' in captured.err
    assert not (tmp_path / 'out.pth').exists()


def test_extract_refuses_pickled_objects(tmp_path, capsys):
    src, _ = write_cmid_checkpoint(tmp_path / 'cmid.pth', 'resnet', depth=18)
    ckpt = _load(src)
    ckpt['meta']['work_dir'] = PurePosixPath('/work')  # any object that is not plain data
    torch.save(ckpt, src)
    assert eb.main([str(src), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert 'weights_only=True' in err and 'pathlib.PurePosixPath' in err and 'cmid.pth' in err
    assert not (tmp_path / 'out.pth').exists()


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
    assert set(state) == set(_stock(student.state_dict()))


def test_no_prefix_writes_the_backbone_keys(r18_ckpt, tmp_path, capsys):
    """--no-prefix: the same tensors under the backbone's own names, and the metadata
    says so."""
    src, student = r18_ckpt
    assert eb.main([str(src), str(tmp_path / 'p.pth'), '--target', 'mmseg']) == 0
    assert eb.main([str(src), str(tmp_path / 'n.pth'), '--target', 'mmseg', '--no-prefix']) == 0
    prefixed, bare = _load(tmp_path / 'p.pth'), _load(tmp_path / 'n.pth')
    ref = _stock(student.state_dict())
    assert list(bare['state_dict']) == list(ref)
    assert all(torch.equal(bare['state_dict'][k], v) for k, v in ref.items())
    assert prefixed['meta']['cmid_export']['key_prefix'] == 'backbone.'
    assert bare['meta']['cmid_export']['key_prefix'] == ''


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
    model = build_stock(BackboneSpec('ResNet', dict(depth=50)), target)
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
    report, _, _ = convert(src, out, target)
    assert report.ok, (report.source_check.describe(), report.target_check.describe())
    assert report.spec.params == dict(**arch, window_size=7, patch_size=4, in_channels=3,
                                         out_indices=(3, ))
    sd = _load(out)['state_dict']
    assert len(sd) == len(bb) + extra
    assert all(torch.equal(sd[f'backbone.{k}'], v) for k, v in bb.items())
    # loads strictly into the target's stock Swin, whose own index buffers are the same
    model = build_stock(report.spec, target)
    key = 'stages.2.blocks.3.attn.w_msa.relative_position_index'
    assert torch.equal(model.state_dict()[key], sd[f'backbone.{key}'])
    model.load_state_dict({k[len('backbone.'):]: v for k, v in sd.items()}, strict=True)


def test_official_rejects_unknown(tmp_path, capsys):
    torch.save({'model': {'encoder_q.conv1.weight': torch.zeros(1)}}, tmp_path / 'x.pth')
    assert oc.main([str(tmp_path / 'x.pth'), str(tmp_path / 'y.pth')]) == 1
    err = capsys.readouterr().err
    assert 'not a reference CMID checkpoint' in err and "'encoder_q.conv1': 1" in err
