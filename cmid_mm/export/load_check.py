"""No silent loads: check that a ``Pretrained`` initialisation really filled its module.

mmengine's ``Pretrained`` init (and a model-level ``pretrained=PATH``, which
mmseg / mmdet / open-cd models turn into a backbone ``init_cfg``) loads with
``strict=False`` and only *logs* the keys it could not place. A file whose
keys carry another prefix than the module expects - e.g. an export with
``backbone.*`` keys given as a model-level ``pretrained=`` - therefore loads
zero weights and training starts from random init without an error.

:func:`check_pretrained_loaded` runs after ``model.init_weights()``: for every
submodule whose ``init_cfg`` is ``Pretrained`` with a local checkpoint file it
counts the module's floating-point tensors (weights, running statistics; not
integer counters) that now equal the checkpoint tensor the loader maps to them
(by name: the ``prefix`` of the init_cfg, else the key itself or with
``module.``; the mmseg / mmdet Swin loaders ignore ``prefix`` and strip
``backbone.`` and ``module.``) and raises :class:`PretrainedLoadError` when
fewer than ``min_fraction`` of them do.
:class:`PretrainedLoadCheckHook` runs the check in a Runner before training.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from torch import nn

from .band_adapt import FIRST_CONV_KEYS, BandMismatchError
from .errors import ConversionError
from .keys import prefix_summary
from .writer import BACKBONE_PREFIX, load_checkpoint_file


class PretrainedLoadError(ConversionError):
    """A ``Pretrained`` initialisation loaded (almost) nothing of its checkpoint."""


@dataclass
class PretrainedLoad:
    """What a ``Pretrained`` init put into one module."""

    module: str  # dotted name in the model ('' = the model itself)
    checkpoint: str
    prefix: str | None
    loaded: list[str] = field(default_factory=list)  # module keys equal to the file's
    not_loaded: list[str] = field(default_factory=list)
    file_keys: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        total = len(self.loaded) + len(self.not_loaded)
        return len(self.loaded) / total if total else 1.0

    def describe(self) -> str:
        where = self.module or 'the model'
        return (f'{where}: {len(self.loaded)} of {len(self.loaded) + len(self.not_loaded)} '
                f'tensors loaded from {self.checkpoint} (prefix={self.prefix!r})')


def _pretrained_cfgs(module: nn.Module) -> list[dict]:
    cfg = getattr(module, 'init_cfg', None)
    cfgs = cfg if isinstance(cfg, (list, tuple)) else [cfg]
    return [c for c in cfgs if isinstance(c, dict) and c.get('type') == 'Pretrained'
            and c.get('checkpoint')]


def _strips_backbone_prefix(module: nn.Module) -> bool:
    """mmseg's and mmdet's SwinTransformer load their Pretrained checkpoint themselves
    and drop a ``backbone.`` key prefix."""
    cls = type(module)
    return cls.__name__ == 'SwinTransformer' and cls.__module__.startswith(('mmseg.', 'mmdet.'))


def _candidates(key: str, prefix: str | None, strip_backbone: bool) -> list[str]:
    """File keys the loader would put into module key ``key``."""
    if strip_backbone:  # their own loader: ignores ``prefix``, drops backbone. / module.
        return [key, 'backbone.' + key, 'module.' + key]
    if prefix:  # mmengine: the keys that start with the prefix, prefix stripped
        return [prefix + key]
    return [key, 'module.' + key]  # mmengine: 'module.' stripped


def inspect_pretrained_loads(model: nn.Module) -> list[PretrainedLoad]:
    """The ``Pretrained`` inits of ``model`` with a local file, and what each loaded.

    Call it after ``model.init_weights()``. Checkpoints that are not local files
    (``open-mmlab://``, ``torchvision://``, URLs) are not inspected.
    """
    results = []
    for name, module in model.named_modules():
        for cfg in _pretrained_cfgs(module):
            path = str(cfg['checkpoint'])
            if not os.path.isfile(path):
                continue
            ckpt = load_checkpoint_file(path)
            state = ckpt.get('state_dict', ckpt.get('model', ckpt))
            strip = _strips_backbone_prefix(module)
            report = PretrainedLoad(name, path, cfg.get('prefix'), file_keys=list(state))
            for key, value in module.state_dict().items():
                if not value.is_floating_point():  # BN counters: equal by chance
                    continue
                hit = next((state[c] for c in _candidates(key, report.prefix, strip)
                            if c in state), None)
                ok = (isinstance(hit, torch.Tensor) and hit.shape == value.shape
                      and torch.equal(hit.to(value.device, value.dtype), value))
                (report.loaded if ok else report.not_loaded).append(key)
            results.append(report)
    return results


def check_pretrained_loaded(model: nn.Module, min_fraction: float = 0.9
                            ) -> list[PretrainedLoad]:
    """Raise when a ``Pretrained`` init of ``model`` filled less than ``min_fraction``
    of its module's tensors (call after ``model.init_weights()``).

    Returns:
        list[PretrainedLoad]: One entry per inspected ``Pretrained`` init.

    Raises:
        PretrainedLoadError: names the module, the file, the prefix, how many
            tensors were loaded, examples of the keys the module expects and of
            the keys the file has, and the usual fix.
    """
    results = inspect_pretrained_loads(model)
    for r in results:
        if r.fraction >= min_fraction:
            continue
        hint = ''
        has_prefix = r.file_keys and all(k.startswith('backbone.') for k in r.file_keys)
        if has_prefix and not r.prefix:
            hint = (" The file's keys start with 'backbone.': use init_cfg=dict(type="
                    "'Pretrained', checkpoint=..., prefix='backbone.') in the backbone, or "
                    're-export with tools/model_converters/extract_backbone.py --no-prefix '
                    'for a model-level pretrained=.')
        raise PretrainedLoadError(
            f'{r.describe()}: below {min_fraction:.0%}, the weights would stay (mostly) '
            f'random. The module expects keys like {r.not_loaded[:3]}; the file has key '
            f'prefixes {prefix_summary(r.file_keys)}.{hint}')
    return results


@HOOKS.register_module()
class PretrainedLoadCheckHook(Hook):
    """Fail before the first training step when a ``Pretrained`` init loaded (almost)
    nothing (see :func:`check_pretrained_loaded`).

    Skipped when the Runner resumes or loads ``load_from``, which replace the
    initial weights anyway.

    Args:
        min_fraction (float): Smallest accepted fraction of a module's tensors
            that must come from its checkpoint. Defaults to 0.9.
    """

    priority = 'VERY_HIGH'

    def __init__(self, min_fraction: float = 0.9) -> None:
        self.min_fraction = min_fraction

    def before_train(self, runner) -> None:
        if runner._load_from is not None or runner._resume:
            return
        from mmengine.model import is_model_wrapper
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_pretrained_bands(model)  # a wrong band count first: it names both counts
        for r in check_pretrained_loaded(model, self.min_fraction):
            runner.logger.info(f'PretrainedLoadCheckHook: {r.describe()}')


def check_pretrained_bands(model: nn.Module) -> int:
    """Refuse a ``Pretrained`` init whose checkpoint has another band count than its module.

    mmengine's loader skips a tensor of another shape with a log line only, so a
    3-band checkpoint given to a backbone built with ``in_channels=13`` leaves
    the first layer random while every other tensor loads (and
    :func:`check_pretrained_loaded`, which counts tensors, passes).
    For every submodule with a ``Pretrained`` ``init_cfg`` pointing to a local
    file, this compares the input channels of the module's first layer
    (``conv1`` / ``stem.0`` / ``patch_embed.projection``, also under
    ``backbone.``) with the file's tensor that the loader maps to it. Callable
    before or after ``init_weights()``.

    Returns:
        The number of first layers checked.

    Raises:
        BandMismatchError: naming the file, its key, its band count, the module
            and the module's ``in_channels``.
    """
    checked = 0
    for name, module in model.named_modules():
        for cfg in _pretrained_cfgs(module):
            path = str(cfg['checkpoint'])
            if not Path(path).is_file():
                continue
            own = module.state_dict()
            firsts = [k for k in own for fk in FIRST_CONV_KEYS
                      if k in (fk, BACKBONE_PREFIX + fk) and own[k].dim() == 4]
            if not firsts:
                continue
            ckpt = load_checkpoint_file(path)
            state = ckpt.get('state_dict', ckpt.get('model', ckpt))
            strip = _strips_backbone_prefix(module)
            for key in firsts:
                hit = next((c for c in _candidates(key, cfg.get('prefix'), strip)
                            if c in state), None)
                if hit is None:
                    continue
                checked += 1
                found, expected = int(state[hit].shape[1]), int(own[key].shape[1])
                if found != expected:
                    hint = (' (adapt it with tools/model_converters/rgb_to_nband.py)'
                            if found == 3 else '')
                    raise BandMismatchError(
                        f'{path}: {hit} takes {found} input band(s), but '
                        f'{(name + ".") if name else ""}{key} of the model expects '
                        f'in_channels={expected}{hint}')
    return checked
