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

Probabilities and ranges follow the albumentations ops of the CMID reference.
Every argument is checked when the op is built (``prob`` in [0, 1],
``max_value`` > 0, and each op's ranges, see its docstring); a bad value
raises ``ValueError`` naming the op, the key and the allowed range.
"""
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


class _RandomOp(BaseTransform):
    """Applies ``_apply`` with probability ``prob``."""

    def __init__(self, prob: float = 1.0, max_value: float = 1.0) -> None:
        self.prob = check_prob(self._name(), 'prob', prob)
        self.max_value = check_number(self._name(), 'max_value', max_value, 0., lo_open=True)

    @classmethod
    def _name(cls) -> str:
        return cls.__name__

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            img = results['img']
            results['img'] = self._apply(img, _white(img, self.max_value))
        return results

    def _apply(self, img: np.ndarray, white: float) -> np.ndarray:
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
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.2,
                 hue: float = 0.1, prob: float = 0.8, max_value: float = 1.0) -> None:
        super().__init__(prob, max_value)
        name = self._name()
        self.brightness = check_number(name, 'brightness', brightness, 0., 1.)
        self.contrast = check_number(name, 'contrast', contrast, 0., 1.)
        self.saturation = check_number(name, 'saturation', saturation, 0., 1.)
        self.hue = check_number(name, 'hue', hue, 0., 0.5)

    def _apply(self, img: np.ndarray, white: float) -> np.ndarray:
        x = img.astype(np.float32)
        rgb = x.ndim == 3 and x.shape[2] == 3
        for op in np.random.permutation(4):
            if op == 0 and self.brightness:
                x = x * np.random.uniform(1 - self.brightness, 1 + self.brightness)
            elif op == 1 and self.contrast:
                mean = (_rgb_to_gray(x) if rgb else x).mean()
                x = (x - mean) * np.random.uniform(1 - self.contrast, 1 + self.contrast) + mean
            elif op == 2 and self.saturation and rgb:
                gray = _rgb_to_gray(x)[..., None]
                x = (x - gray) * np.random.uniform(1 - self.saturation, 1 + self.saturation) + gray
            elif op == 3 and self.hue and rgb:
                x = self._shift_hue(np.clip(x, 0, white) / white, np.random.uniform(
                    -self.hue, self.hue)) * white
            x = np.clip(x, 0, white)
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
    (min, max) with 0 < min <= max.
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

    def _apply(self, img: np.ndarray, white: float) -> np.ndarray:
        ks = np.random.choice(np.arange(self.kernel_range[0], self.kernel_range[1] + 1, 2))
        sigma = np.random.uniform(*self.sigma_range)
        x = img.astype(np.float32)
        # cv2 filters at most 4 channels at once on some builds: blur band by band
        bands = [cv2.GaussianBlur(x[..., c], (int(ks), int(ks)), sigma) for c in range(x.shape[2])]
        return _restore(np.stack(bands, axis=-1), img, white)


@TRANSFORMS.register_module()
class RSGaussNoise(_RandomOp):
    """Additive Gaussian noise; variance drawn from ``var_limit`` (uint8 scale).

    The variance is given on the 0..255 scale (albumentations' default
    (10, 50)) and scaled to the white level of the input dtype;
    ``var_limit``: (min, max) with 0 <= min <= max.
    """

    def __init__(self, var_limit: tuple[float, float] = (10., 50.), prob: float = 0.6,
                 max_value: float = 1.0) -> None:
        super().__init__(prob, max_value)
        self.var_limit = check_range_pair(self._name(), 'var_limit', var_limit, 0.)

    def _apply(self, img: np.ndarray, white: float) -> np.ndarray:
        std = np.sqrt(np.random.uniform(*self.var_limit)) * white / 255.
        noise = np.random.normal(0., std, img.shape).astype(np.float32)
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
        self.num_std = check_number(name, 'num_std', num_std, 0., lo_open=True)
        if (band_mean is None) != (band_std is None):
            raise ValueError(f'{name}: give both band_mean and band_std or neither, got '
                             f'band_mean={band_mean!r}, band_std={band_std!r}')
        self.band_mean = self.band_std = None
        if band_mean is not None:
            if len(band_mean) != len(band_std) or not len(band_mean):
                raise ValueError(f'{name}: band_mean has {len(band_mean)} value(s) but '
                                 f'band_std has {len(band_std)}; give one per band')
            self.band_mean = [float(m) for m in band_mean]
            self.band_std = [check_number(name, 'band_std', v, 0., lo_open=True)
                             for v in band_std]

    def _apply(self, img: np.ndarray, white: float) -> np.ndarray:
        x = img.astype(np.float32)
        if self.band_mean is None:
            lo, hi = np.float32(0.), np.float32(white)
        else:
            bands = 1 if x.ndim == 2 else x.shape[-1]
            if bands != len(self.band_mean):
                raise ValueError(f'{self._name()}: the image has {bands} band(s) but '
                                 f'band_mean / band_std have {len(self.band_mean)} value(s)')
            mean = np.asarray(self.band_mean, dtype=np.float32)
            half = np.float32(self.num_std) * np.asarray(self.band_std, dtype=np.float32)
            lo, hi = mean - half, mean + half  # (C,), broadcast over (H, W, C)
        x = np.where(x >= lo + np.float32(self.threshold) * (hi - lo), lo + hi - x, x)
        return _restore(x, img, white)


@TRANSFORMS.register_module()
class RSToGray(_RandomOp):
    """RGB -> luma replicated to 3 bands; no-op for other band counts."""

    def __init__(self, prob: float = 0.2, max_value: float = 1.0) -> None:
        super().__init__(prob, max_value)

    def _apply(self, img: np.ndarray, white: float) -> np.ndarray:
        if img.ndim != 3 or img.shape[2] != 3:
            return img
        gray = _rgb_to_gray(img.astype(np.float32))[..., None]
        return _restore(np.repeat(gray, 3, axis=2), img, white)
