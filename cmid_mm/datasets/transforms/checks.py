"""Argument checks of the data transforms: errors that name the key and the allowed range.

Every check raises ``ValueError('<Owner>: <key> must be <rule>, got <value>')``
when a transform is built, so a bad config fails before training starts.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ['check_number', 'check_prob', 'check_range_pair']


def _is_real(value) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _bound(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def check_number(owner: str, key: str, value, lo: float = -math.inf, hi: float = math.inf,
                 lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a float, checked to lie in the interval ``lo..hi``.

    Raises:
        ValueError: naming ``owner``, ``key``, the interval and ``value``.
    """
    ok = _is_real(value)
    if ok:
        v = float(value)
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        raise ValueError(f'{owner}: {key} must be a number in '
                         f'{_bound(lo, hi, lo_open, hi_open)}, got {value!r}')
    return float(value)


def check_prob(owner: str, key: str, value) -> float:
    """A probability in [0, 1]."""
    return check_number(owner, key, value, 0., 1.)


def check_range_pair(owner: str, key: str, value: Sequence, lo: float = -math.inf,
                     hi: float = math.inf, lo_open: bool = False, hi_open: bool = False
                     ) -> tuple[float, float]:
    """A ``(min, max)`` pair with ``min <= max``, both in the interval ``lo..hi``.

    Raises:
        ValueError: naming ``owner``, ``key``, the rule and ``value``.
    """
    rule = (f'a (min, max) pair with min <= max, both in '
            f'{_bound(lo, hi, lo_open, hi_open)}')
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f'{owner}: {key} must be {rule}, got {value!r}') from None
    if not (_is_real(a) and _is_real(b)) or float(a) > float(b):
        raise ValueError(f'{owner}: {key} must be {rule}, got {value!r}')
    for v in (float(a), float(b)):
        if not ((v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)):
            raise ValueError(f'{owner}: {key} must be {rule}, got {value!r}')
    return float(a), float(b)
