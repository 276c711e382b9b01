"""Backbone layouts of the stock OpenMMLab classes, and moves between them.

This module knows

* the structure of a ResNet / Swin backbone, inferred from its keys;
* the key layout of the stock ``ResNet`` / ``SwinTransformer`` classes of
  mmpretrain, mmseg and mmdet (mmrotate uses mmdet's), and how to move a
  backbone state dict from mmpretrain's layout to the others.

Layouts (verified by building the stock classes, see
``tests/test_export/test_layout.py``):

* ResNet: mmpretrain, mmseg and mmdet ``ResNet`` have identical keys and
  shapes (torchvision naming: ``conv1``, ``bn1``, ``layer{1-4}.{i}.conv{1-3}``,
  ``downsample.{0,1}``). Moving between them is the identity.
* Swin: mmpretrain 1.x ``SwinTransformer`` and mmseg/mmdet
  ``SwinTransformer`` share the block names (``stages.{i}.blocks.{j}.attn.w_msa.*``,
  ``ffn.layers.*``, ``stages.{i}.downsample.{norm,reduction}`` at the END of
  stage i, the patch-merging unfold order, ``relative_position_index``
  buffers). They differ in which output norms exist: ``norm{i}`` is built for
  each index in ``out_indices``, which is ``(3,)`` for an mmpretrain backbone
  (classification, and CMID pretraining) and ``(0, 1, 2, 3)`` for dense
  prediction. Moving to mmseg/mmdet, the missing output norms of stages 0-2
  are added with LayerNorm's own initial values (weight 1, bias 0), which is
  exactly what the downstream model would start from, and are reported as
  *initialised*; moving to mmpretrain, output norms other than the last one
  (if a backbone had them) are left out and reported.
  ``absolute_pos_embed`` is (1, L, C) in both (only used when
  ``use_abs_pos_embed=True``; Swin-B in CMID does not use it).
* ViT: mmpretrain and mmseg ``VisionTransformer`` share ``cls_token``,
  ``pos_embed`` (1, 1 + h*w, C), ``patch_embed.projection``,
  ``layers.{i}.ln{1,2}``, ``layers.{i}.ffn.layers.{0.0,1}`` and the final norm
  ``ln1``; the attention differs: mmpretrain's ``attn.qkv`` / ``attn.proj``
  are mmseg's ``attn.attn.in_proj_{weight,bias}`` / ``attn.attn.out_proj``
  (``nn.MultiheadAttention``; same q, k, v row order, the renames of mmseg's
  own ``tools/model_converters/vit2mmseg.py``). mmseg builds the patch
  convolution without bias by default, so the mmseg kwargs set
  ``patch_bias=True``. ``pos_embed`` is written at the pretraining grid; both
  stock classes resize it to their ``img_size`` when they load it (mmpretrain
  in a ``load_state_dict`` pre-hook, mmseg in ``init_weights`` for a
  ``Pretrained`` checkpoint, bicubic), and per input at run time.
"""
from __future__ import annotations

import inspect
import re
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import ConversionError
from .keys import prefix_summary

TARGETS = ('mmpretrain', 'mmseg', 'mmdet', 'mmrotate')


# --------------------------------------------------------------------------- structure
@dataclass
class BackboneSpec:
    """Structure of a backbone, enough to build every package's stock class."""

    kind: str  # 'ResNet' | 'SwinTransformer' | 'VisionTransformer'
    params: dict = field(default_factory=dict)

    def describe(self) -> str:
        return f'{self.kind}({", ".join(f"{k}={v}" for k, v in self.params.items())})'


RESNET_DEPTHS = {
    ('basic', (2, 2, 2, 2)): 18, ('basic', (3, 4, 6, 3)): 34,
    ('bottleneck', (3, 4, 6, 3)): 50, ('bottleneck', (3, 4, 23, 3)): 101,
    ('bottleneck', (3, 8, 36, 3)): 152,
}


def infer_spec(state: dict[str, torch.Tensor], where: str = 'state dict') -> BackboneSpec:
    """Infer ResNet depth / Swin arch from the keys and shapes of an (unprefixed)
    backbone state dict in mmpretrain layout."""
    keys = set(state)
    if 'layer1.0.conv1.weight' in keys:
        blocks = []
        for layer in range(1, 5):
            idx = {int(k.split('.')[1]) for k in keys if k.startswith(f'layer{layer}.')}
            blocks.append(len(idx))
        block = 'bottleneck' if 'layer1.0.conv3.weight' in keys else 'basic'
        depth = RESNET_DEPTHS.get((block, tuple(blocks)))
        if depth is None:
            raise ConversionError(f'{where}: ResNet with {block} blocks {blocks} per stage is '
                                  'not a standard depth (18/34/50/101/152)')
        deep_stem = 'stem.0.weight' in keys
        first = state['stem.0.weight' if deep_stem else 'conv1.weight']
        params = dict(depth=depth, in_channels=int(first.shape[1]))
        if deep_stem:
            params.update(deep_stem=True, stem_channels=int(state['stem.6.weight'].shape[0]))
        else:
            params['stem_channels'] = int(first.shape[0])
        params['base_channels'] = int(state['layer1.0.conv1.weight'].shape[0])
        if 'layer2.0.downsample.2.weight' in keys:  # AvgPool, conv, BN
            params['avg_down'] = True
        return BackboneSpec('ResNet', params)
    if 'layers.0.attn.qkv.weight' in keys:
        return _infer_vit(state, keys)
    if 'patch_embed.projection.weight' in keys:
        proj = state['patch_embed.projection.weight']
        depths, heads = [], []
        stage = 0
        while f'stages.{stage}.blocks.0.norm1.weight' in keys:
            n = len({int(k.split('.')[3]) for k in keys
                     if k.startswith(f'stages.{stage}.blocks.')})
            depths.append(n)
            heads.append(int(state[f'stages.{stage}.blocks.0.attn.w_msa.'
                                   'relative_position_bias_table'].shape[1]))
            stage += 1
        table = state['stages.0.blocks.0.attn.w_msa.relative_position_bias_table']
        window = (round(table.shape[0] ** 0.5) + 1) // 2
        norms = sorted(int(m.group(1)) for k in keys if (m := re.match(r'norm(\d+)\.weight$', k)))
        params = dict(embed_dims=int(proj.shape[0]), depths=depths, num_heads=heads,
                      window_size=window, patch_size=int(proj.shape[-1]),
                      in_channels=int(proj.shape[1]), out_indices=tuple(norms))
        if 'absolute_pos_embed' in keys:
            params['use_abs_pos_embed'] = True
            params['img_size'] = int(round(state['absolute_pos_embed'].shape[1] ** 0.5)) \
                * params['patch_size']
        return BackboneSpec('SwinTransformer', params)
    raise ConversionError(
        f'{where}: neither a ResNet (no layer1.0.conv1.weight), a ViT (no '
        'layers.0.attn.qkv.weight) nor a Swin Transformer (no patch_embed.projection.weight); '
        f'key prefixes found: {prefix_summary(list(keys))}')


def _infer_vit(state: dict[str, torch.Tensor], keys: set[str]) -> BackboneSpec:
    """ViT structure from mmpretrain ``VisionTransformer`` keys.

    The head count does not show in the weights; without a config it is taken
    as ``embed_dims // 64`` (ViT-S/B/L and DeiT all use 64-wide heads) and a
    config's value replaces it (:func:`~.cmid_checkpoint.spec_from_cfg`).
    """
    proj = state['patch_embed.projection.weight']
    embed = int(proj.shape[0])
    layers = len({int(k.split('.')[1]) for k in keys if k.startswith('layers.')})
    cls = 'cls_token' in keys
    grid = int(state['pos_embed'].shape[1]) - int(cls)
    side = round(grid ** 0.5)
    if side * side != grid:
        raise ConversionError(f'ViT pos_embed has {grid} patch positions, not a square grid')
    params = dict(embed_dims=embed, num_layers=layers, num_heads=max(1, embed // 64),
                  feedforward_channels=int(state['layers.0.ffn.layers.0.0.weight'].shape[0]),
                  patch_size=int(proj.shape[-1]), in_channels=int(proj.shape[1]),
                  img_size=side * int(proj.shape[-1]), with_cls_token=cls,
                  final_norm='ln1.weight' in keys, qkv_bias='layers.0.attn.qkv.bias' in keys)
    if 'layers.0.gamma1.weight' in keys or 'pre_norm.weight' in keys:
        raise ConversionError('ViT with layer scale or pre-norm: not supported by the export')
    return BackboneSpec('VisionTransformer', params)


# --------------------------------------------------------------------------- stock classes
def _registry_class(package: str, kind: str) -> type:
    if package == 'mmpretrain':
        from mmpretrain.models import backbones
    elif package == 'mmseg':
        from mmseg.models import backbones
    elif package in ('mmdet', 'mmrotate'):
        from mmdet.models import backbones
    else:
        raise ValueError(f'unknown target package {package!r}; choose from {TARGETS}')
    return getattr(backbones, kind)


def stock_kwargs(spec: BackboneSpec, package: str) -> dict:
    """Constructor arguments of ``package``'s stock class for ``spec``, with the
    output indices that package's downstream configs use."""
    p = dict(spec.params)
    if spec.kind == 'VisionTransformer':
        return _vit_kwargs(p, package)
    if spec.kind == 'ResNet':
        kw = {k: v for k, v in p.items() if k in (
            'depth', 'in_channels', 'stem_channels', 'base_channels', 'deep_stem', 'avg_down')}
        kw['out_indices'] = (3, ) if package == 'mmpretrain' else (0, 1, 2, 3)
        kw['norm_cfg'] = dict(type='BN', requires_grad=True)
        return kw
    if package == 'mmpretrain':
        kw = dict(arch=dict(embed_dims=p['embed_dims'], depths=list(p['depths']),
                            num_heads=list(p['num_heads'])),
                  window_size=p['window_size'], patch_size=p['patch_size'],
                  in_channels=p['in_channels'], out_indices=(len(p['depths']) - 1, ))
        if p.get('use_abs_pos_embed'):
            kw.update(use_abs_pos_embed=True, img_size=p['img_size'])
        return kw
    n = len(p['depths'])
    kw = dict(embed_dims=p['embed_dims'], depths=list(p['depths']),
              num_heads=list(p['num_heads']), window_size=p['window_size'],
              patch_size=p['patch_size'], strides=(p['patch_size'], ) + (2, ) * (n - 1),
              in_channels=p['in_channels'], out_indices=tuple(range(n)))
    if p.get('use_abs_pos_embed'):
        kw.update(use_abs_pos_embed=True, pretrain_img_size=p['img_size'])
    return kw


def _vit_kwargs(p: dict, package: str) -> dict:
    """Stock ``VisionTransformer`` kwargs; mmseg's with the 4 outputs of its UperNet configs."""
    if package in ('mmdet', 'mmrotate'):
        raise ConversionError(f'--target {package}: no stock ViT backbone in {package}; '
                              "export a ViT for 'mmpretrain' or 'mmseg'")
    ln = dict(type='LN', eps=1e-6)
    if package == 'mmpretrain':
        return dict(arch=dict(embed_dims=p['embed_dims'], num_layers=p['num_layers'],
                              num_heads=p['num_heads'],
                              feedforward_channels=p['feedforward_channels']),
                    img_size=p['img_size'], patch_size=p['patch_size'],
                    in_channels=p['in_channels'], with_cls_token=p['with_cls_token'],
                    final_norm=p['final_norm'], qkv_bias=p['qkv_bias'], norm_cfg=ln)
    n, ffn, embed = p['num_layers'], p['feedforward_channels'], p['embed_dims']
    if ffn % embed:
        raise ConversionError(f'--target mmseg: ViT feedforward_channels={ffn} is not a '
                              f'multiple of embed_dims={embed} (mmseg takes an int mlp_ratio)')
    outs = tuple(n * i // 4 - 1 for i in range(1, 5)) if n % 4 == 0 else (n - 1, )
    return dict(img_size=p['img_size'], patch_size=p['patch_size'],
                in_channels=p['in_channels'], embed_dims=p['embed_dims'], num_layers=n,
                num_heads=p['num_heads'], mlp_ratio=ffn // embed,
                out_indices=outs, qkv_bias=p['qkv_bias'], with_cls_token=p['with_cls_token'],
                final_norm=p['final_norm'], patch_bias=True, norm_cfg=ln)


def build_stock(spec: BackboneSpec, package: str) -> nn.Module:
    """Build ``package``'s stock backbone class for ``spec`` (random weights)."""
    kwargs = stock_kwargs(spec, package)  # first: it refuses unsupported pairs by name
    return _registry_class(package, spec.kind)(**kwargs)


def build_source_stock(spec: BackboneSpec) -> nn.Module:
    """mmpretrain's stock class with the output norms that the weights have
    (a pretraining backbone may keep other ``out_indices`` than a classifier)."""
    kwargs = stock_kwargs(spec, 'mmpretrain')
    if spec.kind == 'SwinTransformer' and spec.params.get('out_indices'):
        kwargs['out_indices'] = spec.params['out_indices']
    return _registry_class('mmpretrain', spec.kind)(**kwargs)


def filter_kwargs(cls: type, cfg: dict) -> dict:
    """Keep the entries of ``cfg`` that ``cls.__init__`` accepts (drops ``type``,
    ``init_cfg`` and arguments only a subclass knows, such as mask settings)."""
    names = set(inspect.signature(cls.__init__).parameters) - {'self', 'init_cfg'}
    return {k: v for k, v in cfg.items() if k in names}


# --------------------------------------------------------------------------- layout moves
_MMSEG_VIT = re.compile(r'^(layers\.\d+\.attn\.)(qkv\.(weight|bias)|proj\.)')


def _mmseg_vit_name(m: re.Match) -> str:
    """mmpretrain ``attn.qkv.*`` / ``attn.proj.*`` -> mmseg ``attn.attn.in_proj_*`` /
    ``attn.attn.out_proj.*``."""
    if m.group(2).startswith('qkv'):
        return f'{m.group(1)}attn.in_proj_{m.group(3)}'
    return f'{m.group(1)}attn.out_proj.'

def to_target_layout(state: dict[str, torch.Tensor], spec: BackboneSpec, package: str
                     ) -> tuple[OrderedDict, list[str], list[str]]:
    """Move an unprefixed mmpretrain-layout backbone state dict to ``package``.

    The Swin output norms change (mmseg/mmdet build ``norm0``-``norm3``,
    mmpretrain's classifier only ``norm3``), and a ViT's attention keys are
    renamed for mmseg (module docstring).

    Returns:
        The new state dict (unprefixed), the keys added with their module's
        initial values (not pretrained) and the keys removed.
    """
    out = OrderedDict((k, v) for k, v in state.items())
    added: list[str] = []
    removed: list[str] = []
    if spec.kind == 'VisionTransformer' and package == 'mmseg':
        out = OrderedDict((_MMSEG_VIT.sub(_mmseg_vit_name, k), v) for k, v in state.items())
    if spec.kind == 'SwinTransformer':
        embed, n = spec.params['embed_dims'], len(spec.params['depths'])
        if package == 'mmpretrain':
            removed = [k for k in out if re.match(r'norm\d+\.', k)
                       and not k.startswith(f'norm{n - 1}.')]
            for k in removed:
                del out[k]
        else:
            for i in range(n):
                if f'norm{i}.weight' not in out:
                    out[f'norm{i}.weight'] = torch.ones(embed * 2**i)
                    out[f'norm{i}.bias'] = torch.zeros(embed * 2**i)
                    added += [f'norm{i}.weight', f'norm{i}.bias']
    return out, added, removed
