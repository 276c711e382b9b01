"""RGB -> N-band adaptation of a backbone's first convolution, and band-count checks
of checkpoint files.

Only the first layer sees the bands: ResNet ``conv1.weight`` (a deep stem's
``stem.0.weight``) or Swin ``patch_embed.projection.weight``, of shape
(C_out, 3, k, k). :func:`adapt_first_conv` makes it (C_out, N, k, k):

* **mapped bands**: ``rgb_bands=(r, g, b)`` are the 0-based indices of the
  bands that play R, G and B (Sentinel-2 in the 13-band order B01..B12 of
  :data:`cmid_mm.rsdata.sources.S2_BANDS`: B04, B03, B02 = ``(3, 2, 1)``);
  each gets the filter of its colour, copied;
* **other bands**: the mean of the three RGB filters;
* **scale**: every filter is then multiplied by ``3 / N`` (rule ``'mean'``),
  so that an input whose N bands are all equal to the same value x gives the
  same first-layer activation as the RGB model on (x, x, x): the expected
  activation of the layer is preserved when the normalised bands have similar
  statistics. Rule ``'zero'`` leaves the mapped filters unscaled and the other
  bands at 0 (the model computes exactly the RGB function at the start).

:func:`adapt_checkpoint` reads one of our exported backbones
(``extract_backbone.py`` / ``official_cmid_to_mm.py`` output, with or without
the ``backbone.`` prefix) or a CMID training checkpoint (its student or
teacher backbone), refuses anything whose first layer is not 3-band, and
writes an exported backbone through the one export path
(:func:`~.writer.export_backbone`: checked key for key against the stock
class built with ``in_channels=N``).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .cmid_checkpoint import STUDENT_PREFIX, TEACHER_PREFIX, backbone_state
from .errors import ConversionError
from .keys import prefix_summary
from .layout import TARGETS, infer_spec
from .writer import BACKBONE_PREFIX, ExportResult, export_backbone, load_checkpoint_file

#: First-layer weights that see the image bands, in mmpretrain layout (unprefixed).
FIRST_CONV_KEYS = ('conv1.weight', 'stem.0.weight', 'patch_embed.projection.weight')
RULES = ('mean', 'zero')


class BandMismatchError(ConversionError):
    """A checkpoint's first layer has another band count than expected."""


def first_conv_key(state: dict[str, torch.Tensor], where: str = 'state dict') -> str:
    """The key of the first-layer weight in an unprefixed backbone state dict."""
    if 'stem.0.weight' in state:  # deep stem: its conv1.* keys are not the first layer
        return 'stem.0.weight'
    for key in FIRST_CONV_KEYS:
        if key in state:
            return key
    raise ConversionError(f'{where}: no first convolution ({" / ".join(FIRST_CONV_KEYS)}); '
                          f'key prefixes found: {prefix_summary(list(state))}')


def adapt_first_conv(weight: torch.Tensor, num_bands: int, rgb_bands: Sequence[int],
                     rule: str = 'mean') -> torch.Tensor:
    """(C_out, 3, k, k) RGB filters -> (C_out, N, k, k), see the module docstring.

    Args:
        weight: The RGB first-layer weight, channels in R, G, B order.
        num_bands: N.
        rgb_bands: 0-based band indices (in the N-band input) of R, G and B.
        rule: ``'mean'`` (others = mean RGB filter, all scaled by 3/N) or
            ``'zero'`` (others = 0, no scaling).
    """
    if weight.dim() != 4 or weight.shape[1] != 3:
        raise BandMismatchError(f'expected an RGB first layer (C_out, 3, k, k), found shape '
                                f'{tuple(weight.shape)}')
    if rule not in RULES:
        raise ConversionError(f'rule must be one of {RULES}, got {rule!r}')
    rgb = [int(b) for b in rgb_bands]
    if len(rgb) != 3 or len(set(rgb)) != 3 or min(rgb) < 0 or max(rgb) >= num_bands:
        raise ConversionError(f'rgb_bands must be 3 distinct 0-based band indices in '
                              f'[0, {num_bands - 1}] (R, G, B), got {list(rgb_bands)}')
    w = weight.detach().float()
    out = torch.zeros(w.shape[0], num_bands, *w.shape[2:], dtype=w.dtype)
    if rule == 'mean':
        out[:] = w.mean(dim=1, keepdim=True)
    for colour, band in enumerate(rgb):
        out[:, band] = w[:, colour]
    if rule == 'mean':
        out *= 3. / num_bands
    return out.to(weight.dtype).contiguous()


def _split_file(ckpt: dict, path: str | Path, teacher: bool) -> tuple[dict, dict, str]:
    """Unprefixed backbone weights, the export metadata and what the file is."""
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get('state_dict', ckpt), dict):
        raise ConversionError(f'{path}: expected a checkpoint dict, found '
                              f'{type(ckpt).__name__}')
    state = ckpt.get('state_dict', ckpt)
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    if any(k.startswith(TEACHER_PREFIX) for k in state):  # a CMID training checkpoint
        return backbone_state(state, teacher), {}, 'CMID checkpoint'
    if teacher:
        raise ConversionError(f'{path}: --teacher needs a CMID training checkpoint (with '
                              f'{TEACHER_PREFIX}* keys); this file has key prefixes '
                              f'{prefix_summary(list(state))}')
    if all(k.startswith(STUDENT_PREFIX) for k in state):
        state = {k[len(STUDENT_PREFIX):]: v for k, v in state.items()}
    return dict(state), dict(meta.get('cmid_export') or {}), 'exported backbone'


def checkpoint_bands(path: str | Path, teacher: bool = False) -> tuple[int, str]:
    """Input bands of the backbone in ``path`` and the first-layer key that says so."""
    weights, _, _ = _split_file(load_checkpoint_file(path), path, teacher)
    key = first_conv_key(weights, where=str(path))
    return int(weights[key].shape[1]), key


def check_checkpoint_bands(path: str | Path, in_channels: int, teacher: bool = False) -> None:
    """Refuse a backbone checkpoint whose first layer does not take ``in_channels`` bands.

    Raises:
        BandMismatchError: naming the file, the first-layer key and both counts.
    """
    found, key = checkpoint_bands(path, teacher)
    if found != in_channels:
        hint = (' (adapt an RGB checkpoint with tools/model_converters/rgb_to_nband.py)'
                if found == 3 else '')
        raise BandMismatchError(f'{path}: {key} takes {found} input band(s), but the model '
                                f'expects in_channels={in_channels}{hint}')


def adapt_checkpoint(src: str | Path, dst: str | Path, num_bands: int,
                     rgb_bands: Sequence[int], rule: str = 'mean', target: str | None = None,
                     teacher: bool = False, prefix: str = BACKBONE_PREFIX) -> ExportResult:
    """Write an N-band exported backbone made from the RGB backbone in ``src``.

    Args:
        src: An exported backbone (ours) or a CMID training checkpoint.
        dst: Output file (written only when the result matches the stock class
            built with ``in_channels=num_bands`` key for key).
        num_bands: N. rgb_bands: 0-based indices of R, G, B among the N bands.
        rule: See :func:`adapt_first_conv`.
        target: Layout to write; default the one recorded in an exported file,
            else ``mmpretrain``.
        teacher: Take the EMA teacher of a CMID checkpoint.
        prefix: ``'backbone.'`` or ``''``.

    Raises:
        BandMismatchError: ``src``'s first layer is not 3-band.
        ConversionError: anything else that is not a backbone we can adapt.
    """
    weights, export_meta, what = _split_file(load_checkpoint_file(src), src, teacher)
    key = first_conv_key(weights, where=str(src))
    found = int(weights[key].shape[1])
    if found != 3:
        raise BandMismatchError(f'{src}: {key} takes {found} input band(s); only an RGB '
                                f'(3-band) checkpoint can be adapted')
    target = target or export_meta.get('target') or 'mmpretrain'
    if target not in TARGETS:
        raise ConversionError(f'--target must be one of {TARGETS}, got {target!r}')
    weights = dict(weights)
    weights[key] = adapt_first_conv(weights[key], num_bands, rgb_bands, rule)
    spec = infer_spec(weights, where=f'{src} backbone')
    meta = {'source': str(src), 'source_kind': what,
            'band_adapt': {'key': key, 'num_bands': int(num_bands),
                           'rgb_bands': [int(b) for b in rgb_bands], 'rule': rule}}
    if 'source' in export_meta:
        meta['exported_from'] = export_meta['source']
    return export_backbone(weights, spec, target, dst, meta, prefix=prefix)
