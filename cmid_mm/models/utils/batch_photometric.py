"""CMID's strong-view photometric ops on a whole batch, on the training device.

The per-image ops of :mod:`cmid_mm.datasets.transforms.photometric` run in the data
workers, one image at a time, in NumPy / OpenCV: for 13 uint16 bands that is most of a
worker's time (docs/benchmarks.md, "Multispectral views on the device"). This module runs
the same ops on the (B, C, H, W) batch inside :class:`CMIDDataPreprocessor`, before
normalisation, with *per-sample* random parameters drawn from the same distributions
(each op's ``prob`` and ranges). It is new code (mmpretrain's batch augments are Mixup /
CutMix only) and mirrors the per-image formulas one for one:

- ``RSColorJitter``: per sample a random order of brightness / contrast / saturation /
  hue and one factor of each, clipping after each step, optionally in band space;
- ``RSGaussianBlur``: per sample an odd kernel size and a sigma: OpenCV's Gaussian kernel
  (``getGaussianKernel``), separable, reflect-101 borders;
- ``RSGaussNoise``: per sample a variance, per pixel standard-normal noise;
- ``RSSolarize``, ``RSToGray``: as the per-image ops.

Integer inputs (uint8 RGB, unscaled uint16) are rounded and clipped after each op as the
per-image ops round to their dtype; float inputs (e.g. uint16 divided by
``uint16_scale``) are only clipped to ``[0, white]``. For the same parameters the result
equals the per-image op within float tolerance (tests/test_models/test_batch_photometric.py).

Two ways to run an op on the samples it was drawn for (``BatchPhotometric(sync_free=...)``,
by default chosen from the batch's device): on a CPU, index the selected samples (their
count is read on the host, which is free there); on a GPU, compute the op on every sample
and keep it with ``torch.where`` where it applies, so no step waits for the device to tell
the host which samples those are (the "index" form makes ~30 host syncs per 13-band step,
``cmid_mm.utils.host_sync``). Both give the same batch for the same parameters (tested).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['BatchPhotometric', 'BATCH_OPS', 'build_batch_op']

Params = dict[str, torch.Tensor]


def _restore(x: torch.Tensor, white: float, integer: bool) -> torch.Tensor:
    """Clip to ``[0, white]`` and, for integer images, round half to even (as ``np.rint``);
    in place."""
    x.clamp_(0., white)
    return x.round_() if integer else x


def _uniform(n: int, lo: float, hi: float, device: torch.device) -> torch.Tensor:
    return torch.rand(n, device=device, dtype=torch.float64) * (hi - lo) + lo


def _gray(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma, the per-image ops' weights."""
    return (x[:, 0] * 0.299 + x[:, 1] * 0.587 + x[:, 2] * 0.114).unsqueeze(1)


def _bounds(op, bands: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lo, hi = op.band_range.bounds(bands)  # checks the band count
    return (torch.from_numpy(lo).to(like).view(1, -1, 1, 1),
            torch.from_numpy(hi).to(like).view(1, -1, 1, 1))


class _BatchOp:
    """One per-image op (``self.op``, built and validated from the same config) on a batch."""

    def __init__(self, op) -> None:
        self.op = op

    def sample(self, shape: torch.Size, device: torch.device) -> Params:
        """Per-sample parameters for a (B, C, H, W) batch; ``apply`` (B,) bool."""
        n = shape[0]
        out = dict(apply=torch.rand(n, device=device) < self.op.prob)
        out.update(self._sample(shape, device))
        return out

    def _sample(self, shape: torch.Size, device: torch.device) -> Params:
        return {}

    def __call__(self, x: torch.Tensor, params: Params, white: float,
                 integer: bool, sync_free: bool = False) -> torch.Tensor:
        """The op on the samples whose ``params['apply']`` is set; the others unchanged.
        ``x`` is a batch this module owns (changed in place where that is cheaper).
        ``sync_free``: compute every sample and select with ``torch.where`` (no host sync)
        instead of indexing the selected ones."""
        run = params['apply']
        if sync_free:
            p = {k: v for k, v in params.items() if k != 'apply'}
            return torch.where(run.view(-1, 1, 1, 1), self._apply(x, p, white, integer, True),
                               x)
        sub = {k: v[run] for k, v in params.items() if k != 'apply'}
        if bool(run.all()):
            return self._apply(x, sub, white, integer)
        idx = run.nonzero().flatten()
        if idx.numel() == 0:
            return x
        return x.index_copy_(0, idx, self._apply(x.index_select(0, idx), sub, white, integer))

    def _apply(self, x: torch.Tensor, p: Params, white: float, integer: bool,
               sync_free: bool = False) -> torch.Tensor:
        """The op on every sample of ``x`` with parameters ``p`` (one row per sample);
        returns a new tensor (``x`` itself only where nothing changes)."""
        raise NotImplementedError

    def image_params(self, params: Params, i: int) -> dict | None:
        """Sample ``i``'s parameters in the per-image op's format (None: not applied)."""
        if not bool(params['apply'][i]):
            return None
        return self._image_params(params, i)

    def _image_params(self, params: Params, i: int) -> dict:
        return {}


class _ColorJitter(_BatchOp):

    def _sample(self, shape, device):
        op, n = self.op, shape[0]
        rgb = shape[1] == 3
        return dict(
            order=torch.rand(n, 4, device=device).argsort(dim=1),  # uniform permutations
            factor=torch.stack([
                _uniform(n, 1 - op.brightness, 1 + op.brightness, device),
                _uniform(n, 1 - op.contrast, 1 + op.contrast, device),
                _uniform(n, 1 - op.saturation, 1 + op.saturation, device),
                _uniform(n, -op.hue, op.hue, device)], dim=1),
            enabled=torch.tensor([op.brightness > 0, op.contrast > 0,
                                  op.saturation > 0 and rgb, op.hue > 0 and rgb],
                                 device=device).expand(n, 4))

    def _apply(self, x, p, white, integer, sync_free=False):
        op = self.op
        n, c = x.shape[:2]
        rgb = c == 3
        lo_clip = torch.zeros(1, c, 1, 1, dtype=x.dtype, device=x.device)
        hi_clip = torch.full_like(lo_clip, white)
        if op.band_range is not None:  # band space: u = (x - lo) / (hi - lo)
            lo, hi = _bounds(op, c, x)
            scale = hi - lo
            x = (x - lo) / scale
            lo_clip, hi_clip = (lo_clip - lo) / scale, (hi_clip - lo) / scale
        factor = p['factor'].to(x.dtype)  # (n, 4)
        luma = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
        for pos in range(4):
            kind = p['order'][:, pos:pos + 1]  # (n, 1): the op at this position
            run = p['enabled'].gather(1, kind)[:, 0]
            f = factor.gather(1, kind)[:, 0]
            kind = kind[:, 0]
            # brightness (x f) and contrast ((x - m) f + m) are one per-sample affine map
            affine = run & (kind <= 1)
            contrast = run & (kind == 1)
            if sync_free or bool(affine.any()):  # a = 1, b = 0 leave x as it is
                a = torch.where(affine, f, torch.ones_like(f))
                b = torch.zeros_like(f)
                if sync_free or bool(contrast.any()):
                    means = x.mean(dim=(2, 3))  # (n, C); the luma mean is linear in them
                    m = means @ luma if rgb else means.mean(1)
                    b = torch.where(contrast, (1 - f) * m, b)
                x = torch.addcmul(b.view(-1, 1, 1, 1), x, a.view(-1, 1, 1, 1))
            for t, fn, on in ((2, self._saturation, op.saturation > 0 and rgb),
                              (3, self._hue, op.hue > 0 and rgb)):
                if not on:  # never enabled (a zero range, or not RGB): skip without a sync
                    continue
                sel = run & (kind == t)
                if sync_free:
                    x = torch.where(sel.view(-1, 1, 1, 1), fn(x, f, white), x)
                elif bool(sel.any()):
                    idx = sel.nonzero().flatten()
                    x = x.index_copy(0, idx, fn(x.index_select(0, idx), f[idx], white))
            x = torch.maximum(torch.minimum(x, hi_clip), lo_clip)
        if op.band_range is not None:
            x = torch.addcmul(lo, x, scale)
        return _restore(x, white, integer)

    @staticmethod
    def _saturation(x, f, white):
        gray = _gray(x)
        return (x - gray) * f.view(-1, 1, 1, 1) + gray

    @staticmethod
    def _hue(x, f, white):
        return shift_hue(x.clamp(0., white) / white, f) * white

    def _image_params(self, params, i):
        order = [int(o) for o in params['order'][i]]
        factors = {t: float(params['factor'][i, t]) for t in order
                   if bool(params['enabled'][i, t])}
        return dict(order=order, factors=factors)


def shift_hue(rgb01: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of (B, 3, H, W) RGB in [0, 1] by ``shift`` (B,) turns.

    The formulas of OpenCV's float RGB <-> HSV conversion (H in degrees), which the
    per-image ``RSColorJitter`` uses.
    """
    r, g, b = rgb01.unbind(1)
    v, _ = rgb01.max(1)
    mn, _ = rgb01.min(1)
    diff = v - mn
    s = torch.where(v > 0, diff / v.clamp_min(1e-30), torch.zeros_like(v))
    d = torch.where(diff > 0, 60. / diff.clamp_min(1e-30), torch.zeros_like(diff))
    h = torch.where(v == r, (g - b) * d,
                    torch.where(v == g, (b - r) * d + 120., (r - g) * d + 240.))
    h = torch.where(h < 0, h + 360., h)
    h = torch.remainder(h + shift.view(-1, 1, 1) * 360., 360.)
    # HSV -> RGB (sector formula, as cv2's HSV2RGB for float)
    hh = h / 60.
    sector = torch.floor(hh)
    frac = hh - sector
    sector = torch.remainder(sector, 6)
    p_ = v * (1 - s)
    q_ = v * (1 - s * frac)
    t_ = v * (1 - s * (1 - frac))
    table = [(v, t_, p_), (q_, v, p_), (p_, v, t_), (p_, q_, v), (t_, p_, v), (v, p_, q_)]
    out = [torch.zeros_like(v) for _ in range(3)]
    for k, (cr, cg, cb) in enumerate(table):
        m = sector == k
        out = [torch.where(m, c, o) for c, o in zip((cr, cg, cb), out)]
    return torch.stack(out, 1)


def gaussian_kernels(ksize: torch.Tensor, sigma: torch.Tensor, width: int) -> torch.Tensor:
    """(n, width) 1-D Gaussian kernels as OpenCV's ``getGaussianKernel(k, sigma)`` (float64,
    normalised to sum 1), each of odd size ``k <= width`` centred in ``width`` taps."""
    taps = torch.arange(width, device=sigma.device, dtype=torch.float64) - (width - 1) / 2
    sig = sigma.to(torch.float64).view(-1, 1)
    k = torch.exp(-0.5 * taps.view(1, -1) ** 2 / sig ** 2)
    k = k * (taps.abs().view(1, -1) <= (ksize.view(-1, 1) - 1) / 2)
    return k / k.sum(1, keepdim=True)


class _GaussianBlur(_BatchOp):

    def _sample(self, shape, device):
        lo, hi = self.op.kernel_range
        sizes = torch.arange(lo, hi + 1, 2, device=device)
        n = shape[0]
        return dict(ksize=sizes[torch.randint(len(sizes), (n,), device=device)],
                    sigma=_uniform(n, *self.op.sigma_range, device))

    def _apply(self, x, p, white, integer, sync_free=False):
        n, c, h, w = x.shape
        width = self.op.kernel_range[1]
        k = gaussian_kernels(p['ksize'], p['sigma'], width).to(x.dtype)  # (n, K)
        kernel = (k.view(n, 1, width, 1) * k.view(n, 1, 1, width))  # separable: outer product
        pad = width // 2
        # (n, C, H, W) -> (C, n, H, W): the bands are the batch, each sample its own group
        y = F.pad(x.transpose(0, 1), (pad, pad, pad, pad), mode='reflect')
        y = F.conv2d(y, kernel, groups=n).transpose(0, 1)
        return _restore(y.contiguous(), white, integer)

    def _image_params(self, params, i):
        return dict(ksize=int(params['ksize'][i]), sigma=float(params['sigma'][i]))


class _GaussNoise(_BatchOp):

    def _sample(self, shape, device):
        # a standard-normal field for every sample (the ones the op skips ignore theirs):
        # drawing only the applied ones would need their count on the host
        return dict(var=_uniform(shape[0], *self.op.var_limit, device),
                    noise=torch.randn(tuple(shape), device=device))

    def _apply(self, x, p, white, integer, sync_free=False):
        unit = self.op.noise_std(white, x.shape[1])  # white / 255 or (C,) per band
        unit = torch.as_tensor(np.asarray(unit, dtype=np.float64), device=x.device).view(
            1, -1, 1, 1)
        std = (p['var'].sqrt().view(-1, 1, 1, 1) * unit).to(x.dtype)
        return _restore(torch.addcmul(x, std, p['noise']), white, integer)

    def _image_params(self, params, i):
        return dict(var=float(params['var'][i]),
                    noise=params['noise'][i].permute(1, 2, 0).double().cpu().numpy())


class _Solarize(_BatchOp):

    def _apply(self, x, p, white, integer, sync_free=False):
        if self.op.band_range is None:
            lo, hi = 0., float(white)
        else:
            lo, hi = _bounds(self.op, x.shape[1], x)
        x = torch.where(x >= lo + self.op.threshold * (hi - lo), (lo + hi) - x, x)
        return _restore(x, white, integer)


class _ToGray(_BatchOp):

    def _apply(self, x, p, white, integer, sync_free=False):
        if x.shape[1] != 3:
            return x
        return _restore(_gray(x).repeat(1, 3, 1, 1), white, integer)


#: per-image op type -> its batched version
BATCH_OPS: dict[str, type[_BatchOp]] = {
    'RSColorJitter': _ColorJitter, 'RSGaussianBlur': _GaussianBlur,
    'RSGaussNoise': _GaussNoise, 'RSSolarize': _Solarize, 'RSToGray': _ToGray}


def build_batch_op(cfg: dict, where: str) -> _BatchOp:
    """The batched version of one per-image op config (built, so its arguments are checked).

    Raises:
        ValueError: the op has no batched version, or an argument is unknown / invalid;
            the message names ``where``, the op and the key.
    """
    from mmpretrain.registry import TRANSFORMS
    kind = cfg.get('type') if isinstance(cfg, dict) else None
    if kind not in BATCH_OPS:
        raise ValueError(f'{where}: {kind!r} has no batched version; the batched ops are '
                         f'{sorted(BATCH_OPS)} (run other transforms per image in the '
                         'CMIDMultiView view pipeline)')
    try:
        op = TRANSFORMS.build(dict(cfg))
    except TypeError as err:  # an argument the op does not take
        raise ValueError(f'{where}: {kind}: {err}') from None
    except ValueError as err:
        raise ValueError(f'{where}: {err}') from None
    return BATCH_OPS[kind](op)


class BatchPhotometric(nn.Module):
    """A view's photometric op list, run on a (B, C, H, W) batch in the given order.

    Args:
        ops: per-image op configs (``dict(type='RSColorJitter', ...)``), the same dicts a
            ``CMIDMultiView`` view pipeline takes; only :data:`BATCH_OPS` are allowed.
        where: the config key of the list, for error messages.
        sync_free: select the samples of each op with ``torch.where`` (True) or by indexing
            (False); None (default): ``torch.where`` unless the batch is on the CPU.
    """

    def __init__(self, ops: Sequence[dict], where: str = 'view_batch_augments',
                 sync_free: bool | None = None) -> None:
        super().__init__()
        self.where = where
        self.sync_free = sync_free
        self.ops = [build_batch_op(dict(cfg), f'{where}[{i}]') for i, cfg in enumerate(ops)]

    def sample(self, shape: torch.Size, device: torch.device) -> list[Params]:
        """Every op's per-sample parameters for a batch of ``shape``."""
        return [op.sample(shape, device) for op in self.ops]

    def forward(self, x: torch.Tensor, image_dtype: torch.dtype,
                params: list[Params] | None = None) -> torch.Tensor:
        """Apply the ops.

        Args:
            x: float (B, C, H, W) batch.
            image_dtype: the dtype the per-image ops would see (uint8 / uint16: white
                255 / 65535 and rounding after each op; float: each op's ``max_value``).
            params: from :meth:`sample` (drawn here when None).
        """
        if not x.is_floating_point():
            raise TypeError(f'{self.where}: expects a float batch, got {x.dtype}')
        if params is None:
            params = self.sample(x.shape, x.device)
        x = x.clone()  # the ops change it in place; the caller's batch stays as it was
        sync_free = x.device.type != 'cpu' if self.sync_free is None else self.sync_free
        for op, p in zip(self.ops, params):
            x = op(x, p, *white_level(image_dtype, op.op.max_value), sync_free=sync_free)
        return x

    def extra_repr(self) -> str:
        return ', '.join(type(op.op).__name__ for op in self.ops)


def white_level(dtype: torch.dtype, max_value: float) -> tuple[float, bool]:
    """``(white, integer)`` for images of ``dtype``, as the per-image ops' ``_white``:
    uint8 255, uint16 65535 (both rounded), float and other integers ``max_value``."""
    if dtype == torch.uint8:
        return 255., True
    if dtype == torch.uint16:
        return 65535., True
    return float(max_value), not dtype.is_floating_point
