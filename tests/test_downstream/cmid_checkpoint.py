"""Build checkpoints that follow the CMID checkpoint contract, for tests.

A CMID training checkpoint (cmid_mm/models, written by mmengine's
CheckpointHook) holds in ``state_dict``: the student ``backbone.*`` (stock
mmpretrain ResNet / SwinTransformer keys plus ``backbone.mask_token``), the EMA
teacher ``teacher.module.backbone.*`` / ``teacher.module.projector.*`` /
``teacher.module.local_head.*`` (and the EMA step counter ``teacher.steps``),
``projector.*``, ``local_head.*``, ``decoder.*``, ``queue``, ``queue_ptr`` and
``local_loss.center``; ``meta['cfg']`` is the dumped config (model type
``CMID``). Here the backbone weights come from a freshly initialised stock
mmpretrain backbone (seeded); the teacher gets different values (student
weights + 1) so that tests can tell the two apart.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from mmengine.config import Config
from torch import nn


def stock_backbone(kind: str, **kwargs) -> tuple[nn.Module, dict]:
    """A seeded stock mmpretrain backbone and its config dict (type = the CMID subclass)."""
    from mmpretrain.models.backbones import ResNet, SwinTransformer
    torch.manual_seed(0)
    if kind == 'resnet':
        cfg = {'depth': 18, **kwargs}
        return ResNet(**cfg), dict(type='CMIDResNet', **cfg)
    cfg = dict(arch=dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8]),
               window_size=7, img_size=224, out_indices=(3, ))
    cfg.update(kwargs)
    return SwinTransformer(**cfg), dict(type='CMIDSwinTransformer', **cfg)


def cmid_state_dict(backbone: nn.Module, kind: str, embed: int = 2048,
                    teacher_offset: float | None = 1.0) -> OrderedDict:
    """The ``state_dict`` of a CMID checkpoint around ``backbone``.

    Head shapes follow CMID_METHOD.md with small hidden sizes (the converter
    never reads them): projector Linear(C, 32) -> Linear(32, 16), local head
    Conv1d layers, decoder Conv2d(C, 32*32*3, 1). The teacher backbone is the
    student + ``teacher_offset`` (float tensors), or the very same tensors
    when it is None (smaller files for big backbones).
    """
    c_last = embed
    sd = OrderedDict()
    student = backbone.state_dict()
    mask_dims = 64 if kind == 'resnet' else student['patch_embed.projection.weight'].shape[0]
    for k, v in student.items():
        sd[f'backbone.{k}'] = v.clone()
    sd['backbone.mask_token'] = torch.zeros((1, mask_dims, 1, 1) if kind == 'resnet'
                                            else (1, 1, mask_dims))
    heads = {
        'projector.mlp.0.weight': (32, c_last), 'projector.mlp.0.bias': (32, ),
        'projector.mlp.2.weight': (16, 32), 'projector.mlp.2.bias': (16, ),
        'local_head.mlp.0.weight': (32, c_last, 1), 'local_head.last_layer.weight_g': (64, 1, 1),
        'local_head.last_layer.weight_v': (64, 16, 1),
    }
    for k, shape in heads.items():
        sd[k] = torch.randn(shape)
    for k, v in student.items():
        if teacher_offset is None:  # alias the student: torch.save stores it once
            sd[f'teacher.module.backbone.{k}'] = sd[f'backbone.{k}']
        elif v.is_floating_point():
            sd[f'teacher.module.backbone.{k}'] = v.clone() + teacher_offset
        else:
            sd[f'teacher.module.backbone.{k}'] = v.clone()
    for k, shape in heads.items():
        sd[f'teacher.module.{k}'] = torch.randn(shape)
    sd['teacher.steps'] = torch.tensor([10])
    sd['decoder.proj.weight'] = torch.randn(32 * 32 * 3, c_last, 1, 1)
    sd['decoder.proj.bias'] = torch.zeros(32 * 32 * 3)
    sd['queue'] = torch.randn(16, 64)
    sd['queue_ptr'] = torch.zeros(1, dtype=torch.long)
    sd['local_loss.center'] = torch.zeros(1, 64, 1)
    return sd


def cmid_config_text(backbone_cfg: dict) -> str:
    """A dumped config as mmengine writes it into ``meta['cfg']``."""
    cfg = Config(dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['cmid_mm'], allow_failed_imports=False),
        model=dict(type='CMID', backbone=backbone_cfg,
                   neck=dict(type='CMIDLinearDecoder', in_channels=8),
                   head=dict(type='CMIDMIMHead'))))
    return cfg.pretty_text


def write_cmid_checkpoint(path: str | Path, kind: str, with_meta: bool = True,
                          teacher_offset: float | None = 1.0,
                          **backbone_kwargs) -> tuple[Path, nn.Module]:
    """Write a CMID-contract checkpoint; return its path and the student backbone."""
    backbone, cfg = stock_backbone(kind, **backbone_kwargs)
    if kind == 'resnet':  # channels of the last BN of the last block
        c_last = [v for k, v in backbone.state_dict().items()
                  if k.startswith('layer4.') and k.endswith('.weight') and v.ndim == 1][-1].shape[0]
    else:
        c_last = backbone.num_features[-1]
    ckpt = {'state_dict': cmid_state_dict(backbone, kind, embed=int(c_last),
                                          teacher_offset=teacher_offset)}
    ckpt['meta'] = {'epoch': 1, 'iter': 10, 'mmengine_version': '0.10.7'}
    if with_meta:
        ckpt['meta']['cfg'] = cmid_config_text(cfg)
    path = Path(path)
    torch.save(ckpt, path)
    return path, backbone
