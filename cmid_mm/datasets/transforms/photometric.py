"""CMID's strong-view photometric ops, written for any number of bands.

mmpretrain's colour ops are PIL-based and 3-band uint8 only; remote-sensing
pretraining also feeds 16-bit and N-band (e.g. 13-band Sentinel-2) tiles.
Every op here works on an (H, W, C) array of dtype uint8, uint16 or float
(``max_value`` gives the white level of float input, default 1.0) and keeps
the dtype. What each does with N != 3 bands:

- ``RSColorJitter``: brightness and contrast act on every band; saturation and
  hue are RGB notions and are applied only when C == 3 (skipped otherwise).
- ``RSToGray``: only when C == 3 (luma, replicated to 3 bands); a no-op for
  N bands, where "gray" has no meaning.
- ``RSGaussianBlur``, ``RSGaussNoise``: every band.
- ``RSSolarize``: every band; with ``band_mean`` / ``band_std`` each band is
  inverted within its own range (mean +- 2 std) instead of ``[0, white]``.

**Band space.** ``RSColorJitter``, ``RSGaussNoise`` and ``RSSolarize`` take
``band_mean`` / ``band_std`` (+ ``num_std``, default 2): each band ``b`` then has
its own range ``[lo_b, hi_b] = mean_b -/+ num_std * std_b`` (:class:`BandRange`),
which plays the part that ``[0, white]`` plays for a stretched RGB image: the
op's parameters (brightness / contrast factors, the noise variance on the 0..255
scale, the solarize threshold) are applied to ``u_b = (x_b - lo_b) / (hi_b - lo_b)``,
so every band is perturbed as much, relative to its own spread, as a stretched
RGB band is. Without band statistics, brightness and contrast scale reflectance
itself, and a low-variance band (Sentinel-2 B10, std 0.0003) moves by tens of its
own standard deviations (docs/benchmarks.md, "Multispectral: why 13-band loss_rec
rose"). Only reflectance's physical limits ``[0, white]`` are clipped.

**Sampling and applying are separate.** ``op.sample(img)`` draws whether the op
runs (``prob``) and its random parameters (None: not applied); ``op.apply(img,
params)`` is deterministic. ``transform`` is ``apply(sample())`` with the same
random draws as before the split, so a seeded pipeline gives the same images. The
batched device version (:class:`cmid_mm.models.utils.BatchPhotometric`) draws the
same parameters from the same distributions and applies the same formulas.

Probabilities and ranges follow the albumentations ops of the CMID reference.
Every argument is checked when the op is built (``prob`` in [0, 1],
``max_value`` > 0, and each op's ranges, see its docstring); a bad value
raises ``ValueError`` naming the op, the key and the allowed range.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from .checks import check_number, check_prob, check_range_pair


def _white(img: np.ndarray, max_value: float) -> float:
    if img.dtype == np.uint8:
        return 255.
    if img.dtype == np.uint16:
        return 65535.
    return float(max_value)


def _restore(out: np.ndarray, like: np.ndarray, white: float) -> np.ndarray:
    out = np.clip(out, 0, white)
    if np.issubdtype(like.dtype, np.integer):
        out = np.rint(out)
    return out.astype(like.dtype)


def _is_rgb(img: np.ndarray) -> bool:
    return img.ndim == 3 and img.shape[2] == 3


class BandRange:
    """Per-band working range ``[mean_b - num_std * std_b, mean_b + num_std * std_b]``.

    Args:
        owner: name of the op, for error messages.
        band_mean, band_std: one value per band, on the scale of the input (e.g.
            reflectance: the ``band_mean`` / ``band_std`` of
            tools/analysis_tools/band_stats.py).
        num_std: half-width of the range in standard deviations (> 0); 2 is about
            the 2-98 % range that the stretched RGB tiles span.
    """

    def __init__(self, owner: str, band_mean: Sequence[float], band_std: Sequence[float],
                 num_std: float = 2.0) -> None:
        if len(band_mean) != len(band_std) or not len(band_mean):
            raise ValueError(f'{owner}: band_mean has {len(band_mean)} value(s) but '
                             f'band_std has {len(band_std)}; give one per band')
        self.owner = owner
        self.band_mean = [float(m) for m in band_mean]
        self.band_std = [check_number(owner, 'band_std', v, 0., lo_open=True) for v in band_std]
        self.num_std = check_number(owner, 'num_std', num_std, 0., lo_open=True)

    @classmethod
    def from_args(cls, owner: str, band_mean: Sequence[float] | None,
                  band_std: Sequence[float] | None, num_std: float) -> BandRange | None:
        """A range from an op's arguments; None when neither statistic is given."""
        check_number(owner, 'num_std', num_std, 0., lo_open=True)
        if (band_mean is None) != (band_std is None):
            raise ValueError(f'{owner}: give both band_mean and band_std or neither, got '
                             f'band_mean={band_mean!r}, band_std={band_std!r}')
        return None if band_mean is None else cls(owner, band_mean, band_std, num_std)

    def __len__(self) -> int:
        return len(self.band_mean)

    def bounds(self, bands: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)``, float32 arrays of shape (C,).

        Raises:
            ValueError: the image has another band count than the statistics.
        """
        if bands != len(self):
            raise ValueError(f'{self.owner}: the image has {bands} band(s) but '
                             f'band_mean / band_std have {len(self)} value(s)')
        mean = np.asarray(self.band_mean, dtype=np.float32)
        half = np.float32(self.num_std) * np.asarray(self.band_std, dtype=np.float32)
        return mean - half, mean + half

    def __repr__(self) -> str:
        return (f'BandRange(band_mean={self.band_mean}, band_std={self.band_std}, '
                f'num_std={self.num_std})')


def _bands(img: np.ndarray) -> int:
    return 1 if img.ndim == 2 else img.shape[-1]


class _RandomOp(BaseTransform):
    """Applies the op with probability ``prob``: ``apply(img, sample(img))``."""

    def __init__(self, prob: float = 1.0, max_value: float = 1.0) -> None:
        self.prob = check_prob(self._name(), 'prob', prob)
        self.max_value = check_number(self._name(), 'max_value', max_value, 0., lo_open=True)

    @classmethod
    def _name(cls) -> str:
        return cls.__name__

    def sample(self, img: np.ndarray) -> dict | None:
        """Draw whether the op runs on ``img`` and its parameters (None: it does not)."""
        if np.random.rand() < self.prob:
            return self._sample(img)
        return None

    def apply(self, img: np.ndarray, params: dict) -> np.ndarray:
        """The op with the given parameters (deterministic); keeps ``img``'s dtype."""
        return self._apply(img, _white(img, self.max_value), params)

    def transform(self, results: dict) -> dict:
        params = self.sample(results['img'])
        if params is not None:
            results['img'] = self.apply(results['img'], params)
        return results

    def _sample(self, img: np.ndarray) -> dict:
        return {}

    def _apply(self, img: np.ndarray, white: float, params: dict) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items())
        return f'{self.__class__.__name__}({args})'


def _rgb_to_gray(img: np.ndarray) -> np.ndarray:
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


@TRANSFORMS.register_module()
class RSColorJitter(_RandomOp):
    """Random brightness, contrast (any bands), saturation and hue (3 bands).

    Factors are drawn from ``[1 - x, 1 + x]`` (hue: a shift in ``[-hue, hue]``
    of a full turn), applied in random order, like torchvision's ColorJitter.
    ``brightness``, ``contrast``, ``saturation`` in [0, 1]; ``hue`` in [0, 0.5].
    Brightness multiplies the values, contrast scales them around their mean
    (of the luma for RGB, of all bands and pixels otherwise).

    With ``band_mean`` / ``band_std`` both act in band space (module docstring):
    on ``u_b = (x_b - lo_b) / (hi_b - lo_b)``, i.e. brightness scales each band
    about the low end of its own range and contrast about the mean of ``u``,
    as they do for an RGB tile stretched over its 2-98 % range. Saturation and
    hue need ``[0, white]`` RGB and must then be 0.

    Sampled parameters: ``order`` (a permutation of 0 brightness, 1 contrast,
    2 saturation, 3 hue) and ``factors`` ({op: factor} for the ops that run).
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.2,
                 hue: float = 0.1, prob: float = 0.8, max_value: float = 1.0,
                 band_mean: Sequence[float] | None = None,
                 band_std: Sequence[float] | None = None, num_std: float = 2.0) -> None:
        super().__init__(prob, max_value)
        name = self._name()
        self.brightness = check_number(name, 'brightness', brightness, 0., 1.)
        self.contrast = check_number(name, 'contrast', contrast, 0., 1.)
        self.saturation = check_number(name, 'saturation', saturation, 0., 1.)
        self.hue = check_number(name, 'hue', hue, 0., 0.5)
        self.band_range = BandRange.from_args(name, band_mean, band_std, num_std)
        if self.band_range is not None and (self.saturation or self.hue):
            raise ValueError(f'{name}: saturation and hue act on [0, white] RGB and cannot be '
                             f'used with band_mean / band_std; got saturation={saturation!r}, '
                             f'hue={hue!r} (set both to 0)')

    def _sample(self, img: np.ndarray) -> dict:
        rgb = _is_rgb(img)
        order = [int(op) for op in np.random.permutation(4)]
        factors = {}
        for op in order:
            if op == 0 and self.brightness:
                factors[0] = np.random.uniform(1 - self.brightness, 1 + self.brightness)
            elif op == 1 and self.contrast:
                factors[1] = np.random.uniform(1 - self.contrast, 1 + self.contrast)
            elif op == 2 and self.saturation and rgb:
                factors[2] = np.random.uniform(1 - self.saturation, 1 + self.saturation)
            elif op == 3 and self.hue and rgb:
                factors[3] = np.random.uniform(-self.hue, self.hue)
        return dict(order=order, factors=factors)

    def _apply(self, img: np.ndarray, white: float, params: dict) -> np.ndarray:
        x = img.astype(np.float32)
        rgb = _is_rgb(x)
        lo_clip, hi_clip = 0, white
        if self.band_range is not None:  # band space: u = (x - lo) / (hi - lo)
            lo, hi = self.band_range.bounds(_bands(x))
            scale = hi - lo
            x = (x - lo) / scale
            lo_clip, hi_clip = (0 - lo) / scale, (white - lo) / scale
        factors = params['factors']
        for op in params['order']:
            f = factors.get(op)
            if f is None:
                pass
            elif op == 0:
                x = x * f
            elif op == 1:
                mean = (_rgb_to_gray(x) if rgb else x).mean()
                x = (x - mean) * f + mean
            elif op == 2:
                gray = _rgb_to_gray(x)[..., None]
                x = (x - gray) * f + gray
            else:
                x = self._shift_hue(np.clip(x, 0, white) / white, f) * white
            x = np.clip(x, lo_clip, hi_clip)
        if self.band_range is not None:
            x = x * scale + lo
        return _restore(x, img, white)

    @staticmethod
    def _shift_hue(rgb01: np.ndarray, shift: float) -> np.ndarray:
        hsv = cv2.cvtColor(rgb01.astype(np.float32), cv2.COLOR_RGB2HSV)  # H in degrees
        hsv[..., 0] = (hsv[..., 0] + shift * 360.) % 360.
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


@TRANSFORMS.register_module()
class RSGaussianBlur(_RandomOp):
    """Gaussian blur, odd kernel in ``kernel_range``, sigma in ``sigma_range``.

    ``kernel_range``: (min, max) odd positive integers; ``sigma_range``:
    (min, max) with 0 < min <= max. Sampled parameters: ``ksize``, ``sigma``.
    """

    def __init__(self, kernel_range: tuple[int, int] = (3, 7),
                 sigma_range: tuple[float, float] = (0.1, 2.0), prob: float = 1.0,
                 max_value: float = 1.0) -> None:
        super().__init__(prob, max_value)
        name = self._name()
        lo, hi = check_range_pair(name, 'kernel_range', kernel_range, 1.)
        if lo != int(lo) or hi != int(hi) or int(lo) % 2 == 0 or int(hi) % 2 == 0:
            raise ValueError(f'{name}: kernel_range must be (min, max) odd positive integers '
                             f'(Gaussian kernel sizes), got {kernel_range!r}')
        self.kernel_range = (int(lo), int(hi))
        self.sigma_range = check_range_pair(name, 'sigma_range', sigma_range, 0., lo_open=True)

    def _sample(self, img: np.ndarray) -> dict:
        ks = np.random.choice(np.arange(self.kernel_range[0], self.kernel_range[1] + 1, 2))
        return dict(ksize=int(ks), sigma=np.random.uniform(*self.sigma_range))

    def _apply(self, img: np.ndarray, white: float, params: dict) -> np.ndarray:
        ks, sigma = params['ksize'], params['sigma']
        x = img.astype(np.float32)
        # cv2 filters at most 4 channels at once on some builds: blur band by band
        bands = [cv2.GaussianBlur(x[..., c], (int(ks), int(ks)), sigma) for c in range(x.shape[2])]
        return _restore(np.stack(bands, axis=-1), img, white)


@TRANSFORMS.register_module()
class RSGaussNoise(_RandomOp):
    """Additive Gaussian noise; variance drawn from ``var_limit`` (uint8 scale).

    The variance is given on the 0..255 scale (albumentations' default
    (10, 50)) and scaled to the white level of the input dtype;
    ``var_limit``: (min, max) with 0 <= min <= max. With ``band_mean`` /
    ``band_std`` it is on the 0..255 scale of each band's own range instead
    (band space, module docstring): band ``b`` gets the noise std
    ``sqrt(var) / 255 * (hi_b - lo_b)``, so a low-variance band is not drowned
    by the noise level of the bright ones.

    Sampled parameters: ``var`` and ``noise``, a standard-normal array of the
    image's shape (the noise is ``std * noise``).
    """

    def __init__(self, var_limit: tuple[float, float] = (10., 50.), prob: float = 0.6,
                 max_value: float = 1.0, band_mean: Sequence[float] | None = None,
                 band_std: Sequence[float] | None = None, num_std: float = 2.0) -> None:
        super().__init__(prob, max_value)
        self.var_limit = check_range_pair(self._name(), 'var_limit', var_limit, 0.)
        self.band_range = BandRange.from_args(self._name(), band_mean, band_std, num_std)

    def _sample(self, img: np.ndarray) -> dict:
        var = np.random.uniform(*self.var_limit)
        # np.random.normal(0, std, shape) == std * standard_normal(shape), draw for draw
        return dict(var=var, noise=np.random.standard_normal(img.shape))

    def noise_std(self, white: float, bands: int) -> float | np.ndarray:
        """The noise std per unit ``sqrt(var)``: ``white / 255`` or ``(hi - lo) / 255`` (C,)."""
        if self.band_range is None:
            return white / 255.
        lo, hi = self.band_range.bounds(bands)
        return (hi - lo).astype(np.float64) / 255.

    def _apply(self, img: np.ndarray, white: float, params: dict) -> np.ndarray:
        std = np.sqrt(params['var']) * self.noise_std(white, _bands(img))
        noise = (std * params['noise']).astype(np.float32)
        return _restore(img.astype(np.float32) + noise, img, white)


@TRANSFORMS.register_module()
class RSSolarize(_RandomOp):
    """Invert the upper part of each band's range.

    Without band statistics (RGB, as the reference): every value at or above
    ``threshold * white`` becomes ``white - x`` (the range is ``[0, white]``).

    With ``band_mean`` / ``band_std`` (N bands, e.g. reflectance, where one
    threshold on ``[0, white]`` inverts nothing in dark bands or throws them
    far out of their range): band ``b`` has the range
    ``[lo_b, hi_b] = mean_b -/+ num_std * std_b`` (``num_std=2``: about the
    2-98 % range that the reference's stretched RGB spans), values at or above
    ``lo_b + threshold * (hi_b - lo_b)`` become ``lo_b + hi_b - x``: the range
    is mirrored onto itself, as ``white - x`` mirrors ``[0, white]``. With
    ``threshold=0.5`` that is "values above the band mean are reflected about
    it". Results are clipped to ``[0, white]``.

    Args:
        threshold: fraction of the range, in [0, 1].
        prob: probability of applying the op.
        max_value: white level of float input.
        band_mean, band_std: per-band statistics on the scale of the input
            (e.g. the ``band_mean`` / ``band_std`` of
            tools/analysis_tools/band_stats.py); both or neither. An image with
            another band count is refused with a ``ValueError`` naming both counts.
        num_std: half-width of the band range in standard deviations (> 0).
    """

    def __init__(self, threshold: float = 0.5, prob: float = 0.2, max_value: float = 1.0,
                 band_mean: Sequence[float] | None = None,
                 band_std: Sequence[float] | None = None, num_std: float = 2.0) -> None:
        super().__init__(prob, max_value)
        name = self._name()
        self.threshold = check_number(name, 'threshold', threshold, 0., 1.)
        self.band_range = BandRange.from_args(name, band_mean, band_std, num_std)

    def _apply(self, img: np.ndarray, white: float, params: dict) -> np.ndarray:
        x = img.astype(np.float32)
        if self.band_range is None:
            lo, hi = np.float32(0.), np.float32(white)
        else:
            lo, hi = self.band_range.bounds(_bands(x))  # (C,), broadcast over (H, W, C)
        x = np.where(x >= lo + np.float32(self.threshold) * (hi - lo), lo + hi - x, x)
        return _restore(x, img, white)


@TRANSFORMS.register_module()
class RSToGray(_RandomOp):
    """RGB -> luma replicated to 3 bands; no-op for other band counts."""

    def __init__(self, prob: float = 0.2, max_value: float = 1.0) -> None:
        super().__init__(prob, max_value)

    def _apply(self, img: np.ndarray, white: float, params: dict) -> np.ndarray:
        if not _is_rgb(img):
            return img
        gray = _rgb_to_gray(img.astype(np.float32))[..., None]
        return _restore(np.repeat(gray, 3, axis=2), img, white)
