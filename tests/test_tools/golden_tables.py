"""The benchmark tables and result JSON of the micro runs, with what varies between runs
masked, and the comparison with the ones saved before the orchestration moved into
``cmid_mm.benchmark`` (``golden/*_micro.md`` / ``*_micro.json``, written by
``golden/make_golden.py``)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / 'golden'
REPO = Path(__file__).resolve().parents[2]
#: table columns that are timings
TIME_COLUMNS = ('s / step', 'CPU min / run')
#: result keys whose values are timings, dates or the machine's
VOLATILE_KEYS = {'epoch_seconds', 'epoch_cpu_seconds', 'loadavg_1min', 's_per_step',
                 'cpu_minutes', 'peak_rss_mib', 'total_minutes', 'seconds', 'date',
                 'cuda_max_allocated_mib', 'host'}
_TEXT = [(re.compile(r'\d{4}-\d{2}-\d{2}( \d\d:\d\d UTC)?'), '<date>'),
         (re.compile(r'total [\d.]+ min'), 'total <t> min'),
         (re.compile(r'load average at epoch ends [\d.]+-[\d.]+'), 'load average <t>'),
         (re.compile(r'torch \d[\w.+]*'), 'torch <v>'),
         (re.compile(r'\d+ (cores|CPUs)'), r'<n> \1')]


def mask_text(text: str, roots: dict[str, Path]) -> str:
    """``text`` with each root path replaced by its name and dates / timings / versions
    masked; in Markdown tables, the cells of :data:`TIME_COLUMNS` become ``<t>``."""
    for name, path in roots.items():
        text = text.replace(str(path), name)
    for pattern, repl in _TEXT:
        text = pattern.sub(repl, text)
    out, timed = [], []
    for line in text.splitlines():
        if line.startswith('| '):
            cells = line.split(' | ')
            if any(c.strip(' |') in TIME_COLUMNS for c in cells):
                timed = [i for i, c in enumerate(cells) if c.strip(' |') in TIME_COLUMNS]
            elif not line.startswith('|---'):
                cells = [('<t>' + (' |' if c.endswith(' |') else '')) if i in timed else c
                         for i, c in enumerate(cells)]
            line = ' | '.join(cells)
        else:
            timed = [] if not line.startswith('|') else timed
        out.append(line)
    return '\n'.join(out)


def mask_json(obj, roots: dict[str, Path]):
    """``obj`` with the values of :data:`VOLATILE_KEYS` replaced by ``'<t>'`` and its
    strings masked as :func:`mask_text` masks text."""
    if isinstance(obj, dict):
        return {k: '<t>' if k in VOLATILE_KEYS else mask_json(v, roots) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask_json(v, roots) for v in obj]
    if isinstance(obj, str):
        return mask_text(obj, roots)
    return obj


def section(text: str, start: str, end: str) -> str:
    """The text between two marker lines."""
    return text.split(start, 1)[1].split(end, 1)[0]


def masked(table: str, results: dict, work: Path, repo: Path = REPO) -> tuple[str, dict]:
    # the interpreter first: it lies under the repo in a fresh clone (.venv), elsewhere not
    roots = {'<python>': Path(sys.executable), '<work>': work, '<repo>': repo}
    return mask_text(table, roots), mask_json(json.loads(json.dumps(results)), roots)


def assert_same_as_before(name: str, table: str, results: dict, work: Path) -> None:
    """The masked table and result JSON equal ``golden/<name>_micro.{md,json}``."""
    got_table, got_json = masked(table, results, work)
    want_table = (GOLDEN / f'{name}_micro.md').read_text()
    want_json = json.loads((GOLDEN / f'{name}_micro.json').read_text())
    assert got_table == want_table
    assert got_json == want_json
