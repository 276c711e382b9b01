"""Rows written as they finish, and one table from several work dirs (our own).

A benchmark run appends every finished row (one scored pretraining run or baseline of one
seed) to ``<work-dir>/rows.jsonl`` at once, so an interrupted run keeps what it finished,
and a long table can be run in pieces (seeds or methods side by side, or across sessions)
and merged with :func:`collect_rows` (``--collect`` of ``ssl_compare.py`` and
``multispectral_compare.py``).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path

ROWS = 'rows.jsonl'
RESULTS = 'results.json'


def start_rows(work_dir: Path, keep: bool = False) -> Path:
    """``work_dir/rows.jsonl``, emptied unless ``keep`` (``--resume``)."""
    path = Path(work_dir) / ROWS
    path.parent.mkdir(parents=True, exist_ok=True)
    if not keep or not path.is_file():
        path.write_text('')
    return path


def append_row(path: Path, row: dict) -> None:
    """Append one finished row (one JSON line)."""
    with open(path, 'a') as f:
        f.write(json.dumps(row) + '\n')


def read_rows(work_dir: Path, tool: str) -> list[dict]:
    """The rows of one work dir.

    Raises:
        FileNotFoundError: it has no ``rows.jsonl`` (naming the dir and ``tool``).
    """
    path = Path(work_dir) / ROWS
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no rows (is {work_dir} a {tool} work dir?)')
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def collect_rows(dirs: Sequence[Path], tool: str, key: Callable[[dict], Hashable],
                 free: Iterable[str] = ('seeds', )) -> tuple[list[dict], list[dict]]:
    """The rows of several work dirs and their ``results.json``.

    A row whose ``key`` came earlier (an earlier dir, or the same dir given twice) is
    skipped. The dirs' settings must agree except for the keys in ``free``.

    Returns:
        (rows, infos): the rows in order, and the ``results.json`` of each dir that has one.

    Raises:
        FileNotFoundError: a dir without rows, or no dir with a ``results.json``.
        ValueError: the dirs were run with different settings (naming both).
    """
    free = set(free)
    rows: list[dict] = []
    seen: set = set()
    infos = []
    for d in dirs:
        for row in read_rows(d, tool):
            if key(row) not in seen:
                seen.add(key(row))
                rows.append(row)
        if (Path(d) / RESULTS).is_file():
            infos.append(json.loads((Path(d) / RESULTS).read_text()))
    if not infos:
        raise FileNotFoundError(f'none of {[str(d) for d in dirs]} has a {RESULTS}: the '
                                'settings are unknown')

    def same(settings: dict) -> dict:
        return {k: v for k, v in settings.items() if k not in free}
    for info in infos[1:]:
        if same(info['settings']) != same(infos[0]['settings']):
            raise ValueError(f'{[str(d) for d in dirs]}: the work dirs were run with different '
                             f'settings: {same(info["settings"])} vs '
                             f'{same(infos[0]["settings"])}')
    return rows, infos


def merged_header(infos: Sequence[dict], command: str) -> dict:
    """``command`` (every dir's and this one's), ``date`` and ``total_minutes`` of a merge."""
    return dict(command='; '.join([*(i['command'] for i in infos), command]),
                date=', '.join(sorted({i['date'] for i in infos})),
                total_minutes=sum(i['total_minutes'] for i in infos))
