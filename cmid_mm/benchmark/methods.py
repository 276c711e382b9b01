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
    keeps ``exp(-rate T) <= 5 %`` of its start."""
    ipe = num_tiles // batch_size
    queue = min(max(_pow2_floor(batch_size * ipe / 4), batch_size), 65536)
    return {'model.queue_len': queue, 'model.momentum': round(max(0.001, 3 / (ipe * epochs)), 6)}


def _byol_rules(num_tiles: int, batch_size: int, epochs: int) -> dict:
    """CMID's EMA rule on BYOL's cosine schedule, ``max(0.01, 6 / T)`` (the recipe's 0.99
    already satisfies it for T >= 600)."""
    total = (num_tiles // batch_size) * epochs
    return {'model.base_momentum': round(max(0.01, 6 / total), 6)}


def _mocov3_rules(num_tiles: int, batch_size: int, epochs: int) -> dict:
    """MoCo v3's key encoder is the same ``CosineEMA`` as BYOL's, with the recipe's
    ``base_momentum=0.01``: BYOL's rule ``max(0.01, 6 / T)`` (ViT path; written here for the
    ViT rows)."""
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

METHODS: dict[str, Method] = {m.name: m for m in (
    Method('cmid', 'CMID',
           {'resnet18': CMID_CONFIGS / 'cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py',
            'resnet50': CMID_CONFIGS / 'cmid_resnet50_4xb64-adan-200e_millionaid.py',
            'swin-base': CMID_CONFIGS / 'cmid_swin-base_4xb64-adan-200e_millionaid.py',
            'vit-tiny': CMID_CONFIGS / 'cmid_vit-tiny-p16_1xb32-adan-20e_s2-tiles-128.py'},
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
    Method('mae', 'MAE', {'vit-tiny': SSL_CONFIGS / 'mae_vit-tiny-p16_s2-tiles-128.py'}, skip={
        'resnet18': MAE_REASON.format(backbone='ResNet-18'),
        'resnet50': MAE_REASON.format(backbone='ResNet-50'),
        'swin-base': MAE_REASON.format(
            backbone='Swin-B (windowed attention over a full grid)')}),
    # MoCoV3ViT freezes its sin-cos pos_embed in init_weights, after the Runner has built the
    # optimizer: pos_embed is then a one-tensor group whose grad stays None, and mmpretrain's
    # multi-tensor Adan fails on it ("Tensor list must have at least one tensor"); the
    # single-tensor path is the same update and skips it
    Method('mocov3', 'MoCo v3', {'vit-tiny': SSL_CONFIGS / 'mocov3_vit-tiny-p16_s2-tiles-128.py'},
           {k: 'no MoCo v3 config for this backbone yet (the ResNet rows are separate work)'
            for k in ('resnet18', 'resnet50', 'swin-base')},
           schedule_rules=_mocov3_rules, optimizer_options=dict(foreach=False)),
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
    rule for its ``batch`` keys per step and a constant EMA rate ``max(0.001, 3 / T)``;
    BYOL and MoCo v3 ``base_momentum = max(0.01, 6 / T)``; SimMIM and MAE nothing (no queue,
    no teacher).
    """
    return METHODS[method].schedule_rules(num_tiles, batch_size, epochs)


def width_patch(method: str, model_cfg, width: int | None) -> dict:
    """Backbone width (ResNet stem/base channels) and the head sizes that follow it.

    The heads keep each recipe's ratio to the backbone's output width ``C`` (CMID
    projector and local head hidden ``C``, local prototypes ``1024 x width / 64``; MoCo v2
    hidden ``C``; BYOL hidden ``2 C``; SimMIM decoder input ``C``); the embedding sizes
    (128 / 256) are kept.
    """
    if width is None:
        return {}
    depth = model_cfg['backbone']['depth']
    out = width * 8 * (1 if depth < 50 else 4)
    patch = {'model.backbone.stem_channels': width, 'model.backbone.base_channels': width,
             'model.neck.in_channels': out}
    patch.update(METHODS[method].head_widths(out, width))
    return patch
