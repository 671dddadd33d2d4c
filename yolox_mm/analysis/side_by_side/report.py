"""The side-by-side report: tables of rows (lists of cell strings) built
from the runs' ``result.json`` dicts, rendered as markdown by
:func:`make_table`.

Tables: one row per run; mean and spread (max - min) over seeds per
implementation; if the runs evaluated periodically, the mean, standard
deviation and range of each run's last ``noise_evals`` val evaluations
(the eval-to-eval fluctuation) and the mean of those means per
implementation; last, the val curves per evaluated epoch.
"""
import statistics
from typing import Callable, List, Optional, Sequence, Tuple

IMPLS = ('ours', 'mmdet')
Table = Tuple[Sequence[str], List[List[str]]]  # (header, rows)


def _f(x, nd=3) -> str:
    return '-' if x is None else f'{x:.{nd}f}'


def _spread(values: List[float], nd: int = 3) -> str:
    return _f(max(values) - min(values), nd) if len(values) > 1 else \
        '- (1 seed)'


def eval_noise(curve: List[dict], k: int) -> Optional[dict]:
    """Mean, standard deviation and range of the last ``k`` val
    evaluations of a run (None with fewer than 2)."""
    last = curve[-k:]
    if len(last) < 2:
        return None
    m = [p['bbox_mAP'] for p in last]
    m50 = [p['bbox_mAP_50'] for p in last]
    return dict(
        n=len(last), epochs=(last[0]['epoch'], last[-1]['epoch']),
        mean_mAP=statistics.mean(m), std_mAP=statistics.stdev(m),
        mean_mAP_50=statistics.mean(m50), std_mAP_50=statistics.stdev(m50),
        range_mAP_50=max(m50) - min(m50))


def run_rows(results: List[dict]) -> Table:
    """One row per run (a failed run: its error)."""
    header = ('impl', 'seed', 'bbox mAP', 'mAP@0.5', 'train wall (min)',
              's/epoch', 'epochs', '= final val')
    rows = []
    for r in results:
        if not r.get('ok'):
            rows.append([r['impl'], str(r['seed']),
                         f'failed: {r.get("error")}', '', '', '', '', ''])
            continue
        eq = {True: 'yes', False: 'NO', None: '-'}[r.get('equals_final_val')]
        rows.append([r['impl'], str(r['seed']), _f(r['bbox_mAP']),
                     _f(r['bbox_mAP_50']), f'{r["train_wall_s"] / 60:.1f}',
                     _f(r['s_per_epoch'], 2), str(r['epochs']), eq])
    return header, rows


def _per_impl(items: List[Tuple[str, object]],
              row: Callable[[List[object]], List[str]]) -> List[List[str]]:
    """``[impl, count] + row(items of impl)`` for each implementation
    with items."""
    rows = []
    for impl in IMPLS:
        mine = [x for i, x in items if i == impl]
        if mine:
            rows.append([impl, str(len(mine))] + row(mine))
    return rows


def impl_rows(results: List[dict]) -> Table:
    """Mean and spread over seeds per implementation (successful runs)."""
    header = ('impl', 'runs', 'mean bbox mAP', 'spread bbox mAP',
              'mean mAP@0.5', 'spread mAP@0.5', 'mean s/epoch')

    def row(rs: List[dict]) -> List[str]:
        m = [r['bbox_mAP'] for r in rs]
        m50 = [r['bbox_mAP_50'] for r in rs]
        return [_f(statistics.mean(m)), _spread(m),
                _f(statistics.mean(m50)), _spread(m50),
                _f(statistics.mean(r['s_per_epoch'] for r in rs), 2)]
    ok = [(r['impl'], r) for r in results if r.get('ok')]
    return header, _per_impl(ok, row)


def _noise(results: List[dict], k: int) -> List[Tuple[dict, dict]]:
    pairs = [(r, eval_noise(r.get('val_curve') or [], k))
             for r in results if r.get('ok')]
    return [(r, n) for r, n in pairs if n]


def noise_rows(results: List[dict], k: int) -> Table:
    """Per run with at least 2 val evaluations: the last ``k`` of them."""
    header = ('impl', 'seed', 'epochs (evals)', 'mean bbox mAP',
              'std bbox mAP', 'mean mAP@0.5', 'std mAP@0.5', 'range mAP@0.5')
    rows = [[r['impl'], str(r['seed']),
             f'{n["epochs"][0]}-{n["epochs"][1]} ({n["n"]})',
             _f(n['mean_mAP'], 4), _f(n['std_mAP'], 4),
             _f(n['mean_mAP_50'], 4), _f(n['std_mAP_50'], 4),
             _f(n['range_mAP_50'])] for r, n in _noise(results, k)]
    return header, rows


def noise_impl_rows(results: List[dict], k: int) -> Table:
    """Per implementation: the mean and spread of the runs' last-``k``
    means."""
    header = ('impl', 'runs', f'mean of the last-{k} means, bbox mAP',
              'spread', f'mean of the last-{k} means, mAP@0.5', 'spread')

    def row(ns: List[dict]) -> List[str]:
        m = [n['mean_mAP'] for n in ns]
        m50 = [n['mean_mAP_50'] for n in ns]
        return [_f(statistics.mean(m), 4), _spread(m, 4),
                _f(statistics.mean(m50), 4), _spread(m50, 4)]
    items = [(r['impl'], n) for r, n in _noise(results, k)]
    return header, _per_impl(items, row)


def curve_rows(results: List[dict]) -> Table:
    """Val mAP@0.5 (bbox mAP) per evaluated epoch, one column per run with
    more than one evaluation."""
    curves = [r for r in results
              if r.get('ok') and len(r.get('val_curve') or []) > 1]
    header = ['epoch'] + [f'{r["impl"]} s{r["seed"]}' for r in curves]
    epochs = sorted({p['epoch'] for r in curves for p in r['val_curve']})
    rows = []
    for e in epochs:
        cells = [str(e)]
        for r in curves:
            p = next((p for p in r['val_curve'] if p['epoch'] == e), None)
            cells.append('-' if p is None else
                         f'{p["bbox_mAP_50"]:.3f} ({p["bbox_mAP"]:.3f})')
        rows.append(cells)
    return header, rows


def markdown(table: Table) -> List[str]:
    """A markdown table: header, rule, rows."""
    def line(cells) -> str:
        return '|' + '|'.join(f' {c} ' if c else ' ' for c in cells) + '|'
    header, rows = table
    return [line(header), '|---' * len(header) + '|'] + [line(r) for r in rows]


def make_table(results: List[dict], noise_evals: int = 5) -> str:
    """The whole report as markdown (see the module docstring)."""
    lines = markdown(run_rows(results)) + [''] + \
        markdown(impl_rows(results)) + [
        '', 'spread = max - min over seeds. Metrics: COCO bbox mAP and '
        'mAP@0.5 of the final checkpoint (EMA weights) on the '
        'test_dataloader, from the test json log.']
    noise = noise_rows(results, noise_evals)
    if noise[1]:
        lines += ['', f'Last {noise_evals} val evaluations of each run (EMA '
                  'weights, as in the test): their mean, and the '
                  'eval-to-eval fluctuation (std, range):', '']
        lines += markdown(noise) + [''] + \
            markdown(noise_impl_rows(results, noise_evals))
    curves = curve_rows(results)
    if curves[1]:
        lines += ['', 'Val mAP@0.5 (bbox mAP) per evaluated epoch:', '']
        lines += markdown(curves)
    return '\n'.join(lines) + '\n'
