"""Helpers shared by every test folder (import as ``from tests.helpers import ...``).

- :func:`tiny_cmid_cfg`, :func:`make_cmid_batch`: the tiny CMID config and the real
  CMID pipeline on real tiles;
- :func:`cmid_model_cfg`, :func:`write_cmid_checkpoint`: the one fake-checkpoint
  builder, derived from the real model's ``state_dict()``.
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
TINY_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'


def tiny_cmid_cfg(crop_size: int = 64, config: str | Path = TINY_CFG, queue_len: int = 64,
                  **model_overrides) -> dict:
    """A very small CMID model config (the model of ``config``, by default the ResNet-18
    CPU config, with small heads; 64 px -> 2x2 grid).

    Projector 32-d, a ``queue_len``-key queue, a 128-way local head, 3 matches; any
    keyword replaces the model key of that name.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(str(config))
    model = copy.deepcopy(cfg.model.to_dict())
    model.update(num_matches=3)
    model['global_head'].update(feat_dim=32, queue_len=queue_len)
    model['local_head'].update(hid_channels=64, bottleneck_channels=32, out_channels=128)
    model['local_loss'].update(out_dim=128)
    model['projector'].update(hid_channels=64, out_channels=32)
    model.update(model_overrides)
    return model


def make_cmid_batch(files, crop_size: int = 64, seed: int = 0,
                    config: str | Path = TINY_CFG) -> dict:
    """Run the real CMID pipeline of ``config`` (default: the CPU config) on real tiles
    at ``crop_size``.

    Returns:
        dict: ``default_collate`` of the packed samples (``inputs``: two
        (B, 3, crop, crop) uint8 views; ``data_samples`` with mask and grid).
    """
    from mmengine.config import Config
    cfg = Config.fromfile(str(config))
    return run_pipeline(cfg.train_pipeline, files, crop_size, seed)


def run_pipeline(pipeline, files, crop_size: int, seed: int) -> dict:
    """A CMID ``train_pipeline`` (list of transform configs) at ``crop_size`` px on
    ``files`` after ``np.random.seed(seed)``: ``default_collate`` of the packed samples."""
    import numpy as np
    from mmengine.dataset import default_collate
    from mmpretrain.registry import TRANSFORMS
    steps = []
    for t in pipeline:
        t = t.to_dict() if hasattr(t, 'to_dict') else dict(t)
        if t['type'] == 'Resize':
            t['scale'] = (crop_size, crop_size)
        if t['type'] == 'CMIDMultiView':
            t['crop_size'] = crop_size
            t['mask_generator'] = dict(t['mask_generator'], input_size=crop_size)
        steps.append(TRANSFORMS.build(t))
    np.random.seed(seed)
    samples = []
    for f in files:
        r = dict(img_path=str(f))
        for t in steps:
            r = t(r)
        samples.append(r)
    return default_collate(samples)


CMID_MODEL_BASES = {
    'resnet': REPO / 'configs/cmid/_base_/models/cmid_resnet50.py',
    'swin': REPO / 'configs/cmid/_base_/models/cmid_swin-base.py',
    'vit': REPO / 'configs/cmid/_base_/models/cmid_vit-base-p16.py',
}
VIT_WIDTH = {'base': 768, 'b': 768, 'deit-small': 384, 'deit-s': 384}
SWIN_WIDTH = {'b': 1024, 'base': 1024, 't': 768, 'tiny': 768, 's': 768, 'small': 768,
              'l': 1536, 'large': 1536}


def _last_channels(kind: str, backbone: dict) -> int:
    """Channels of the last backbone stage, from the backbone config."""
    if kind == 'resnet':
        return 512 if backbone.get('depth', 50) < 50 else 2048
    if kind == 'vit':
        arch = backbone.get('arch', 'base')
        return arch['embed_dims'] if isinstance(arch, dict) else VIT_WIDTH[arch.lower()]
    arch = backbone.get('arch', 'B')
    if isinstance(arch, dict):
        return arch['embed_dims'] * 2**(len(arch['depths']) - 1)
    return SWIN_WIDTH[arch.lower()]


def cmid_model_cfg(kind: str, **backbone_kwargs) -> dict:
    """The repository's CMID model config for ``kind`` (``'resnet'``: ResNet-50 base,
    ``'swin'``: Swin-B base) with ``backbone_kwargs`` applied to the backbone, the
    channels that follow from it (``in_channels=N``: N-value mean/std, N-band decoder),
    and small heads (they do not change any backbone key; the queue and the projector /
    local head widths only make files big)."""
    from mmengine.config import Config
    model = copy.deepcopy(Config.fromfile(str(CMID_MODEL_BASES[kind])).model.to_dict())
    model['backbone'].update(backbone_kwargs)
    bands = model['backbone'].get('in_channels', 3)
    if bands != 3:  # N bands: one mean/std value per band; the MIM decoder predicts N bands
        pre = model['data_preprocessor']
        pre.update(mean=[pre['mean'][0]] * bands, std=[pre['std'][0]] * bands, to_rgb=False)
        model['neck']['out_channels'] = bands
    c = _last_channels(kind, model['backbone'])
    model['neck']['in_channels'] = c
    model['projector'].update(in_channels=c, hid_channels=64, out_channels=32)
    model['local_head'].update(in_channels=c, hid_channels=64, bottleneck_channels=32,
                               out_channels=128)
    model['local_loss'].update(out_dim=128)
    # the queue and its key width sit on the model or on its global head
    for holder in (model, model.get('global_head') or {}):
        for key, value in (('feat_dim', 32), ('queue_len', 64), ('num_matches', 3)):
            if key in holder:
                holder[key] = value
    return model


def _perturb_(model: nn.Module, seed: int) -> None:
    """Give every float tensor a value no initialiser gives (BN weights are 1 at init,
    running variances 1, ...), so that "loaded" can be told from "left at init"."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, v in model.state_dict().items():
            if not v.is_floating_point():
                continue
            noise = torch.rand(v.shape, generator=g)
            if name.endswith('running_var'):
                v.mul_(1 + noise)
            else:
                v.add_((noise - 0.5) * 0.1)


def write_cmid_checkpoint(path: str | Path, kind: str, with_meta: bool = True,
                          teacher_offset: float | None = 1.0, seed: int = 0,
                          **backbone_kwargs) -> tuple[Path, nn.Module]:
    """Build the real CMID model and save it as mmengine's ``CheckpointHook`` does.

    The model comes from the repository's CMID config (:func:`cmid_model_cfg`),
    so every key is the real model's: student ``backbone.*`` (with
    ``backbone.mask_token``), the EMA teacher ``teacher.module.*`` and
    ``teacher.steps``, the heads, the queue. Its tensors get seeded values
    (:func:`_perturb_`); the teacher backbone then differs from the student by
    ``teacher_offset`` (float tensors), or shares the student's tensors when it is
    None (smaller files for big backbones). The file is ``{'meta': {'cfg', 'epoch',
    'iter', 'seed', 'mmengine_version', ...}, 'state_dict', 'message_hub'}`` written
    with ``mmengine.runner.checkpoint.save_checkpoint``.

    Args:
        path: Output file.
        kind: ``'resnet'``, ``'swin'`` or ``'vit'``.
        with_meta: Put the dumped config into ``meta['cfg']``.
        teacher_offset: Added to the teacher's float backbone tensors; None: alias.
        seed: Seed of the weights.
        **backbone_kwargs: Backbone config overrides, e.g. ``depth=18`` or
            ``arch=dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])``.

    Returns:
        The path and the student backbone (a ``CMIDResNet`` /
        ``CMIDSwinTransformer``; its state dict has ``mask_token`` besides the
        stock keys).
    """
    import mmengine
    from mmengine.config import Config
    from mmengine.logging import MessageHub
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import get_state_dict, save_checkpoint, weights_to_cpu
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401  (registers CMID)
    init_default_scope('mmpretrain')
    cfg = cmid_model_cfg(kind, **backbone_kwargs)
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg))
    _perturb_(model, seed)
    state = weights_to_cpu(get_state_dict(model))
    teacher = 'teacher.module.backbone.'
    for key in [k for k in state if k.startswith(teacher)]:
        student = state['backbone.' + key[len(teacher):]]
        if teacher_offset is None:  # alias: torch.save stores the storage once
            state[key] = student
        elif student.is_floating_point():
            state[key] = student + teacher_offset
    hub = MessageHub.get_instance(f'fake_cmid_checkpoint_{Path(path).stem}')
    hub.update_scalar('train/loss', 1.0)
    meta = {'epoch': 1, 'iter': 10, 'seed': seed, 'mmengine_version': mmengine.__version__,
            'experiment_name': 'fake_cmid'}
    if with_meta:
        meta['cfg'] = Config(dict(
            default_scope='mmpretrain',
            custom_imports=dict(imports=['cmid_mm'], allow_failed_imports=False),
            model=cfg)).pretty_text
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint({'meta': meta, 'state_dict': state, 'message_hub': hub.state_dict()},
                    str(path))
    return path, model.backbone
