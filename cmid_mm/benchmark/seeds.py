"""Summaries over seeds: mean and sample standard deviation of every score and cost."""
from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Iterable, Sequence


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    return (statistics.fmean(values),
            statistics.stdev(values) if len(values) > 1 else None)


def group_rows(rows: Iterable[dict], key: Callable[[dict], Hashable]) -> dict:
    """Rows grouped by ``key(row)``, groups in the order of their first row."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


def seed_summary(rows: Sequence[dict], head: dict, mean_keys: Sequence[str] = ()) -> dict:
    """One table entry from the rows of one run over its seeds.

    Returns:
        ``head`` + ``seeds`` (the rows' seeds) + ``scores`` (``{key: {mean, std}}`` of every
        key that every row's ``scores`` has, in the first row's order: a score only some
        seeds were scored with, e.g. an optional probe, is left out rather than averaged
        over fewer seeds than the row says) + the mean of each of ``mean_keys`` over the
        rows that have it (None when none has).
    """
    entry = dict(head, seeds=[r['seed'] for r in rows], scores={})
    for key in rows[0]['scores']:
        if any(key not in r['scores'] for r in rows):
            continue
        mean, std = mean_std([r['scores'][key] for r in rows])
        entry['scores'][key] = dict(mean=mean, std=std)
    for key in mean_keys:
        vals = [r[key] for r in rows if r.get(key) is not None]
        entry[key] = statistics.fmean(vals) if vals else None
    return entry
