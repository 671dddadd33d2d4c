"""A benchmark run: the chosen sections in order, each a
:class:`~.report.SectionResult`, and the summary table."""
from typing import Callable, List

from .assign import section_assign
from .data import section_data
from .infer import section_infer
from .loss import section_loss
from .report import SUMMARY_COLUMNS, SectionResult, format_table
from .sizes import Options, Sizes
from .train import section_train

#: Section letter -> (name, function); ``--sections`` takes the letters.
SECTIONS = {
    'a': ('SimOTA', section_assign),
    'b': ('loss_by_feat', section_loss),
    'c': ('data pipeline', section_data),
    'd': ('training iteration', section_train),
    'e': ('inference', section_infer),
}
SUMMARY_TITLE = ('== Summary: ours vs mmdet 3.3.0 and Megvii yolox 0.3.1 '
                 '(ratios; goals in docs/benchmarks.md) ==')


def run_sections(letters: str, sizes: Sizes, opts: Options,
                 progress: Callable[[str], None] = lambda line: None,
                 done: Callable[[SectionResult], None] = lambda r: None
                 ) -> List[SectionResult]:
    """Run the sections named by ``letters`` (any of ``abcde``, run in
    alphabetical order; b reuses a's decisions on which mmdet cases ran).
    ``done`` is called with each result as soon as it is there.

    Raises:
        ValueError: for a letter outside ``abcde``.
    """
    unknown = set(letters) - set(SECTIONS)
    if unknown:
        raise ValueError(f'sections are letters of {"".join(SECTIONS)}, '
                         f'got {letters!r}')
    results, runnable = [], {}
    for letter in sorted(set(letters)):
        func = SECTIONS[letter][1]
        if letter == 'b':
            result = func(sizes, opts, runnable, progress=progress)
        else:
            result = func(sizes, opts, progress=progress)
        if letter == 'a':
            runnable = result.mmdet_runnable
        results.append(result)
        done(result)
    return results


def summary_text(results: List[SectionResult], smoke: bool) -> str:
    """The summary: every section's ratios in one table."""
    rows = [row.cells() for r in results for row in r.summary]
    title = SUMMARY_TITLE + (' [SMOKE sizes: not meaningful]' if smoke
                             else '')
    return f'\n{title}\n' + format_table(SUMMARY_COLUMNS, rows)
