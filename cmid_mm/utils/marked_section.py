"""Rewrite one marked section of a text file (benchmark tables in docs/benchmarks.md)."""
from __future__ import annotations

from pathlib import Path


def write_marked_section(out: str | Path, start: str, end: str, body: str) -> None:
    """Replace the text between the ``start`` and ``end`` marker lines of ``out`` with
    ``body``; append the marked block when the markers are absent (or the file is).
    Text outside the markers is kept as it is."""
    out = Path(out)
    block = f'{start}\n{body}\n{end}'
    text = out.read_text() if out.exists() else ''
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = (text.rstrip('\n') + '\n\n' if text else '') + block + '\n'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
