"""Wall-time measurement: interleaved medians, and torch.profiler tables."""
import math
import statistics
import time
from typing import Callable, Dict, Tuple


def time_interleaved(fns: Dict[str, Callable[[], object]], repeats: int,
                     warmup: int, budget: float = math.inf,
                     clock: Callable[[], float] = time.perf_counter
                     ) -> Tuple[Dict[str, float], Dict[str, object]]:
    """Median wall time (s) of each callable, and the result of its last
    call.

    ``warmup`` untimed calls of each first; the callables then take turns
    so that a load change hits all. A callable whose (last) warm-up took
    more than ``budget / repeats`` s is timed fewer times (at least once),
    so that its timed runs take about ``budget`` s.

    Args:
        fns: Name -> callable without arguments.
        repeats: Timed calls of each (at most).
        warmup: Untimed calls of each first.
        budget: Seconds of timed calls per callable.
        clock: The time source (seconds).
    """
    results, slow = {}, {}
    for _ in range(warmup):
        for name, fn in fns.items():
            start = clock()
            results[name] = fn()
            slow[name] = clock() - start
    runs = {name: repeats for name in fns}
    for name, seconds in slow.items():
        if seconds * repeats > budget:
            runs[name] = max(1, int(budget / seconds))
    times = {name: [] for name in fns}
    for i in range(repeats):
        for name, fn in fns.items():
            if i >= runs[name]:
                continue
            results[name] = None  # free the previous result first
            start = clock()
            results[name] = fn()
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results


def profile_table(fn: Callable[[], object], rows: int = 15) -> str:
    """Top ops (self CPU time) of one call of ``fn`` (after one warm-up),
    as torch.profiler's table."""
    from torch.profiler import ProfilerActivity, profile
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return prof.key_averages().table(sort_by='self_cpu_time_total',
                                     row_limit=rows)
