"""The table of pretraining methods the benchmarks compare (our own: a benchmark registry).

A method is one entry of :data:`METHODS`: its display name, its pretraining config for
each benchmark backbone, the reason it cannot run on a backbone, the short-schedule rules
of its recipe, the head widths that follow the backbone width, its loss weights (CMID) and
how its backbone is exported for a fine-tune. ``tools/benchmark/ssl_compare.py``,
``multispectral_compare.py``, ``multispectral_probe.py``, ``downstream_compare.py`` and
``tools/demo.py`` read it, so adding a method is one config plus one entry here.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: repository root (the configs and tools the benchmarks run live there)
REPO = Path(__file__).resolve().parents[2]
CMID_CONFIGS = REPO / 'configs' / 'cmid'
#: the mmpretrain-based configs of the compared methods (one place to change)
SSL_CONFIGS = REPO / 'configs' / 'benchmarks' / 'ssl_compare'


@dataclass(frozen=True)
class Backbone:
    """A benchmark backbone: display name, whether ``--width`` (ResNet channels) applies and
    whether it has BatchNorm layers (the frozen evaluation's BN recalibration)."""
    name: str
    resnet: bool = True
    batch_norm: bool = True


#: backbone key -> backbone (the keys of :attr:`Method.configs`)
BACKBONES = {'resnet18': Backbone('ResNet-18'), 'resnet50': Backbone('ResNet-50'),
             'swin-base': Backbone('Swin-B', resnet=False),
             # the tiny ViT of the CPU CMID-ViT config: 192 wide, 4 layers, 3 heads, patch 16
             'vit-tiny': Backbone('ViT-T/16 (4 layers)', resnet=False,
                                 batch_norm=False)}


def _no_rules(num_tiles: int, batch_size: int, epochs: int) -> dict:
    return {}


def _no_heads(out_channels: int, width: int) -> dict:
    return {}


def _pow2_floor(x: float) -> int:
    return 2 ** int(math.floor(math.log2(max(x, 1.))))


def _cmid_rules(num_tiles: int, batch_size: int, epochs: int) -> dict:
    """:func:`cmid_mm.models.utils.cmid_short_schedule` (queue of at most a quarter epoch of
    keys, EMA rate ``max(0.004, 6 / T)`` cosine to 0, teacher-temperature warm-up over
    ``T / 4`` iterations)."""
    from cmid_mm.models.utils import cmid_short_schedule
    rules = cmid_short_schedule(num_tiles, batch_size, epochs)
    return {f'model.{part}.{k}': v for part, d in rules.items() for k, v in d.items()}


def _mocov2_rules(num_tiles: int, batch_size: int, epochs: int) -> dict:
    """CMID's queue rule for MoCo v2's ``batch`` keys per step (one view enqueued), and its
    constant EMA rate ``max(0.001, 3 / T)`` (the recipe's 0.999), so that the key encoder
    keeps ``exp(-rate T) <= 5 %`` of its start. The queue is rounded down to a multiple of
    the batch (a no-op for power-of-two batches): mmpretrain's MoCo and DenseCL enqueue whole
    batches and assert ``queue_len % batch == 0`` at the first step."""
    ipe = num_tiles // batch_size
    queue = min(max(_pow2_floor(batch_size * ipe / 4), batch_size), 65536)
    queue -= queue % batch_size
    return {'model.queue_len': queue, 'model.momentum': round(max(0.001, 3 / (ipe * epochs)), 6)}


def _byol_rules(num_tiles: int, batch_size: int, epochs: int) -> dict:
    """CMID's EMA rule on BYOL's cosine schedule, ``max(0.01, 6 / T)`` (the recipe's 0.99
    already satisfies it for T >= 600)."""
    total = (num_tiles // batch_size) * epochs
    return {'model.base_momentum': round(max(0.01, 6 / total), 6)}


def _densecl_rules(num_tiles: int, batch_size: int, epochs: int) -> dict:
    """MoCo v2's rules (:func:`_mocov2_rules`) for DenseCL: its two queues (global keys and
    the pooled dense keys) share one ``queue_len`` and each takes ``batch`` keys per step, and
    its key encoder is the same constant EMA (the recipe's ``momentum=0.001``)."""
    return _mocov2_rules(num_tiles, batch_size, epochs)


def _mocov3_rules(num_tiles: int, batch_size: int, epochs: int) -> dict:
    """BYOL's rule (:func:`_byol_rules`) for MoCo v3's momentum encoder, the same
    ``CosineEMA`` from ``base_momentum`` to 0 (the recipe's 0.01 for 100 and 300 epochs;
    ResNet and ViT alike)."""
    return _byol_rules(num_tiles, batch_size, epochs)


def _cmid_heads(out: int, width: int) -> dict:
    """Projector and local head hidden ``C``, local prototypes ``1024 x width / 64``."""
    protos = max(64, 1024 * width // 64)
    return {'model.projector.in_channels': out, 'model.projector.hid_channels': out,
            'model.local_head.in_channels': out, 'model.local_head.hid_channels': out,
            'model.local_head.out_channels': protos, 'model.local_loss.out_dim': protos}


def _mocov2_heads(out: int, width: int) -> dict:
    return {'model.neck.hid_channels': out}


def _byol_heads(out: int, width: int) -> dict:
    return {'model.neck.hid_channels': 2 * out, 'model.head.predictor.hid_channels': 2 * out}


def _densecl_heads(out: int, width: int) -> dict:
    """Global and dense projector hidden ``C`` (the recipe's 2048 -> 2048 -> 128)."""
    return {'model.neck.hid_channels': out}


def _barlowtwins_heads(out: int, width: int) -> dict:
    """Projector hidden and output ``4 C`` (the recipe's 2048 -> 8192 -> 8192), the head's
    cross-correlation over the same ``4 C``."""
    return {'model.neck.hid_channels': 4 * out, 'model.neck.out_channels': 4 * out,
            'model.head.in_channels': 4 * out}


def _mocov3_heads(out: int, width: int) -> dict:
    """Projector and predictor hidden ``2 C`` (the recipe's 4096 for ``C = 2048``); the
    256-d embedding is kept."""
    return {'model.neck.hid_channels': 2 * out, 'model.head.predictor.hid_channels': 2 * out}


@dataclass(frozen=True)
class Method:
    """One pretraining method of the benchmarks.

    Attributes:
        name: Key of :data:`METHODS` (run names, CLI choices, result JSON).
        display: Its name in the tables.
        configs: Backbone key (:data:`BACKBONES`) -> pretraining config.
        skip: Backbone key -> why the method cannot run there (printed in the tables).
        schedule_rules: ``(num_tiles, batch_size, epochs) -> {dotted key: value}``: the
            short-schedule rules of docs/architecture.md for its recipe.
        head_widths: ``(backbone output channels, width) -> {dotted key: value}``: the head
            sizes that keep the recipe's ratio to the backbone width.
        loss_weights: ``model.loss_weights`` written into every run (CMID's three terms).
        export: How its backbone is exported for a fine-tune (:mod:`.export`): ``'cmid'``
            (the student of a CMID checkpoint, :func:`cmid_mm.export.extract`) or
            ``'backbone'`` (the ``backbone.*`` tensors of an mmpretrain checkpoint).
        optimizer_options: Extra arguments of the shared Adan for its runs (the same
            update; e.g. MoCo v3's ``foreach=False``, see its entry).
    """
    name: str
    display: str
    configs: dict[str, Path] = field(default_factory=dict)
    skip: dict[str, str] = field(default_factory=dict)
    schedule_rules: Callable[[int, int, int], dict] = _no_rules
    head_widths: Callable[[int, int], dict] = _no_heads
    loss_weights: dict[str, float] | None = None
    export: str = 'backbone'
    optimizer_options: dict = field(default_factory=dict)

    def config(self, backbone: str) -> Path | None:
        """Its config for ``backbone`` (None: it does not run there)."""
        return self.configs.get(backbone)

    def why_not(self, backbone: str) -> str:
        """Why it has no run on ``backbone``."""
        return self.skip.get(backbone, 'no config for this backbone')


#: why the ResNet-only rows have no Swin-B run
NO_SWIN = ('no Swin-B config: mmpretrain ships {method} for {shipped}, not for Swin, and this '
           'benchmark runs it on the ResNets')
MAE_REASON = ('MAE needs a ViT backbone (mmpretrain MAEViT / MAEHiViT drop the masked tokens '
              'before the encoder); {backbone} has no token sequence to drop')
#: why the ResNet methods have no ViT row (the ViT table of docs/benchmarks.md)
NOT_IN_VIT_TABLE = {
    'vit-tiny': 'not in the ViT table (its rows: CMID, MAE, MoCo v3, random init, colour)'}
#: CMID's three loss terms at weight 1 (its runs; ablations zero some of them)
ALL_TERMS = dict(rec=1., local=1., **{'global': 1.})


def _ssl(method: str, size: dict[str, str]) -> dict[str, Path]:
    return {key: SSL_CONFIGS / f'{method}_{key}_s2-tiles-{px}.py' for key, px in size.items()}


_SSL_SIZES = {'resnet18': '128', 'resnet50': '224', 'swin-base': '224'}
_RESNET_SIZES = {'resnet18': '128', 'resnet50': '224'}

METHODS: dict[str, Method] = {m.name: m for m in (
    Method('cmid', 'CMID',
           {'resnet18': CMID_CONFIGS / 'cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py',
            'resnet50': CMID_CONFIGS / 'cmid_resnet50_4xb64-adan-200e_millionaid.py',
            'swin-base': CMID_CONFIGS / 'cmid_swin-base_4xb64-adan-200e_millionaid.py',
            'vit-tiny': CMID_CONFIGS / 'cmid_vit-tiny-p16_1xb32-adan-20e_s2-tiles-128.py'},
           schedule_rules=_cmid_rules, head_widths=_cmid_heads, loss_weights=ALL_TERMS,
           export='cmid'),
    # the other side of "CLS token or pooled map" (docs/benchmarks.md, ViT table): the same
    # CMID-ViT run with the global branch on the final CLS token
    Method('cmid_cls', 'CMID (CLS global)',
           {'vit-tiny': CMID_CONFIGS / 'cmid_vit-tiny-p16-cls_1xb32-adan-20e_s2-tiles-128.py'},
           {k: 'the CLS-token global branch needs a ViT student (CMIDViT global_feature)'
            for k in ('resnet18', 'resnet50', 'swin-base')},
           schedule_rules=_cmid_rules, head_widths=_cmid_heads, loss_weights=ALL_TERMS,
           export='cmid'),
    Method('mocov2', 'MoCo v2', _ssl('mocov2', _SSL_SIZES), NOT_IN_VIT_TABLE,
           schedule_rules=_mocov2_rules, head_widths=_mocov2_heads),
    Method('byol', 'BYOL', _ssl('byol', _SSL_SIZES), NOT_IN_VIT_TABLE, schedule_rules=_byol_rules,
           head_widths=_byol_heads),
    # with a ResNet the student is CMIDResNet(replace=True) (a stage-0 mask token), since
    # mmpretrain's SimMIM only asks for backbone(x, mask); its decoder input follows the
    # neck's in_channels, which every width patch sets
    Method('simmim', 'SimMIM', _ssl('simmim', _SSL_SIZES), NOT_IN_VIT_TABLE),
    Method('densecl', 'DenseCL', _ssl('densecl', _RESNET_SIZES),
           skip={'swin-base': NO_SWIN.format(method='DenseCL', shipped='ResNet-50'),
                 **NOT_IN_VIT_TABLE},
           schedule_rules=_densecl_rules, head_widths=_densecl_heads),
    Method('barlowtwins', 'Barlow Twins', _ssl('barlowtwins', _RESNET_SIZES),
           skip={'swin-base': NO_SWIN.format(method='Barlow Twins', shipped='ResNet-50'),
                 **NOT_IN_VIT_TABLE},
           head_widths=_barlowtwins_heads),
    # MoCoV3ViT freezes its sin-cos pos_embed in init_weights, after the Runner has built the
    # optimizer: pos_embed is then a one-tensor group whose grad stays None, and mmpretrain's
    # multi-tensor Adan fails on it ("Tensor list must have at least one tensor"); the
    # single-tensor path is the same update and skips it (the ResNet runs take it too)
    Method('mocov3', 'MoCo v3',
           {**_ssl('mocov3', _RESNET_SIZES),
            'vit-tiny': SSL_CONFIGS / 'mocov3_vit-tiny-p16_s2-tiles-128.py'},
           skip={'swin-base': NO_SWIN.format(method='MoCo v3', shipped='ResNet-50 and ViTs')},
           schedule_rules=_mocov3_rules, head_widths=_mocov3_heads,
           optimizer_options=dict(foreach=False)),
    Method('mae', 'MAE', {'vit-tiny': SSL_CONFIGS / 'mae_vit-tiny-p16_s2-tiles-128.py'}, skip={
        'resnet18': MAE_REASON.format(backbone='ResNet-18'),
        'resnet50': MAE_REASON.format(backbone='ResNet-50'),
        'swin-base': MAE_REASON.format(
            backbone='Swin-B (windowed attention over a full grid)')}),
)}

#: table names of the rows that are not a pretraining method
BASELINES = {'colour': 'colour baseline', 'random': 'random init'}


def display(run: str) -> str:
    """The table name of a method or baseline row (the key itself when unknown)."""
    if run in METHODS:
        return METHODS[run].display
    return BASELINES.get(run, run)


def short_schedule_patch(method: str, num_tiles: int, batch_size: int, epochs: int) -> dict:
    """Model-config values (dotted keys) of the short-schedule rules for ``method``.

    The rules of docs/architecture.md ("Short schedules"), with ``T`` the run's optimizer
    steps: CMID :func:`cmid_mm.models.utils.cmid_short_schedule`; MoCo v2 the same queue
    rule for its ``batch`` keys per step and a constant EMA rate ``max(0.001, 3 / T)``
    (DenseCL: the same, for both of its queues); BYOL ``base_momentum = max(0.01, 6 / T)``
    (MoCo v3: the same); SimMIM, Barlow Twins and MAE nothing (no queue, no teacher).
    """
    return METHODS[method].schedule_rules(num_tiles, batch_size, epochs)


def width_patch(method: str, model_cfg, width: int | None) -> dict:
    """Backbone width (ResNet stem/base channels) and the head sizes that follow it.

    The heads keep each recipe's ratio to the backbone's output width ``C`` (CMID
    projector and local head hidden ``C``, local prototypes ``1024 x width / 64``; MoCo v2
    and DenseCL hidden ``C``; BYOL and MoCo v3 hidden ``2 C``; Barlow Twins projector
    ``4 C`` wide; SimMIM decoder input ``C``); the embedding sizes (128 / 256) are kept.
    """
    if width is None:
        return {}
    depth = model_cfg['backbone']['depth']
    out = width * 8 * (1 if depth < 50 else 4)
    patch = {'model.backbone.stem_channels': width, 'model.backbone.base_channels': width,
             'model.neck.in_channels': out}
    patch.update(METHODS[method].head_widths(out, width))
    return patch
