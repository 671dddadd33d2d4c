"""What a benchmark section returns, and its text form.

A section measures and returns a :class:`SectionResult`: its title, one
table (header and rows of strings), notes printed under the table, the
lines it adds to the final summary and any profiler tables. Nothing in a
section prints; the CLI renders results with :func:`format_table`.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

MIB = 1 << 20


def fmt_ms(seconds: Optional[float]) -> str:
    """Seconds as milliseconds with one decimal, ``'-'`` for None."""
    return '-' if seconds is None else f'{seconds * 1e3:.1f}'


def fmt_mb(nbytes: Optional[int]) -> str:
    """Bytes as MiB with one decimal, ``'-'`` for None."""
    return '-' if nbytes is None else f'{nbytes / MIB:.1f}'


def fmt_ratio(ratio: Optional[float]) -> str:
    """A ratio as ``'1.23x'``, ``'-'`` for None."""
    return '-' if ratio is None else f'{ratio:.2f}x'


def format_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Left-aligned columns two spaces apart, a dashed rule under the
    header, every line indented by two spaces."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for i, row in enumerate(cells):
        lines.append('  ' + '  '.join(c.ljust(w) for c, w in zip(row, widths)))
        if i == 0:
            lines.append('  ' + '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


@dataclass
class SummaryRow:
    """One line of the summary: a ratio ours / mmdet (speed-up or memory)
    that a section measured, None when it could not."""
    name: str
    measured: Optional[float]
    note: str = ''

    def cells(self) -> List[str]:
        return [self.name, fmt_ratio(self.measured), self.note]


SUMMARY_COLUMNS = ('measure', 'measured', 'note')


@dataclass
class SectionResult:
    """The outcome of one section.

    Attributes:
        title: First line, with the sizes and method.
        header: Column names of the table.
        rows: Table cells (strings or numbers), one list per row.
        notes: Lines printed under the table.
        summary: Its lines of the final summary.
        profiles: ``(title, torch.profiler table)`` when profiling.
        mmdet_runnable: Section a only: per ``(G, C)`` whether mmdet's
            assignment ran (section b skips the cases it could not).
    """
    title: str
    header: Sequence[str]
    rows: List[list]
    notes: List[str] = field(default_factory=list)
    summary: List[SummaryRow] = field(default_factory=list)
    profiles: List[Tuple[str, str]] = field(default_factory=list)
    mmdet_runnable: Dict[Tuple[int, int], bool] = field(default_factory=dict)

    def column(self, name: str) -> list:
        """The cells of column ``name``, one per row."""
        i = list(self.header).index(name)
        return [row[i] for row in self.rows]

    def text(self) -> str:
        """Title, table, profiles and notes as the CLI prints them."""
        parts = [f'\n{self.title}', format_table(self.header, self.rows)]
        parts += [f'\n  profile: {t}\n{table}' for t, table in self.profiles]
        parts += [f'  {note}' for note in self.notes]
        return '\n'.join(parts)
