"""Markdown pieces of the benchmark tables and the marked sections they are written to."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def markers(tool: str, profile: str | None = None) -> tuple[str, str]:
    """The start / end marker lines of ``tool``'s section (``<!-- tool[:profile]:start -->``)."""
    name = tool if profile is None else f'{tool}:{profile}'
    return f'<!-- {name}:start -->', f'<!-- {name}:end -->'


def write_section(out: Path, start_end: tuple[str, str], body: str) -> None:
    """Replace the text between the markers in ``out`` (append the block if absent)."""
    from cmid_mm.utils import write_marked_section
    write_marked_section(out, *start_end, body)


def mean_std_cell(s: dict, digits: int = 1) -> str:
    """``mean ± std`` of a ``{mean, std}`` summary (``mean`` alone when std is None)."""
    if s['std'] is None:
        return f'{s["mean"]:.{digits}f}'
    return f'{s["mean"]:.{digits}f} ± {s["std"]:.{digits}f}'


def value_cells(entry: dict, specs: Sequence[tuple[str, str]]) -> list[str]:
    """``entry[key]`` formatted with ``spec`` for each ``(key, spec)``; ``-`` when missing."""
    return [f'{entry[k]:{f}}' if entry.get(k) is not None else '-' for k, f in specs]


def row(cells: Sequence[str]) -> str:
    """One Markdown table line."""
    return '| ' + ' | '.join(cells) + ' |'


def rule(align: str) -> str:
    """The header rule of a table: ``l`` a left, ``r`` a right-aligned column."""
    return '|' + ''.join('---|' if a == 'l' else '---:|' for a in align)
