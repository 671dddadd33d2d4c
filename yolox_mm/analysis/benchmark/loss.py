"""Section b: ``loss_by_feat`` (assignment included, forward only) of our
``YOLOXHead`` and mmdet's, fed the same raw head outputs (those of section
a, as per-level maps requiring grad); the loss values are compared."""
import gc
from typing import Callable, Dict, Optional, Tuple

import torch

from yolox_mm.testing.memory import memory_limit
from yolox_mm.testing.reference import build_head
from yolox_mm.testing.synthetic import make_assign_inputs
from .assign import mmdet_assign_bytes
from .report import SectionResult, SummaryRow, fmt_ms, fmt_ratio
from .sizes import Options, Sizes
from .timing import time_interleaved

HEADER = ('GT/img', 'ours ms', 'mmdet ms', 'speed-up', 'max rel. loss diff')


def max_rel_diff(ours: Dict[str, object], ref: Dict[str, object]) -> float:
    """Largest ``|ours[k] - ref[k]| / |ref[k]|`` over the keys of ``ref``
    (loss dicts; tensors or floats)."""
    def value(x) -> float:
        return float(torch.as_tensor(x).detach())
    return max(abs(value(ours[k]) - value(ref[k])) /
               max(abs(value(ref[k])), 1e-12) for k in ref)


def _skip(inp, key: Tuple[int, int], runnable: Dict[Tuple[int, int], bool],
          opts: Options) -> Optional[str]:
    """Why mmdet is not run at this case (section a could not, or its
    memory estimate is above the limit when a did not run), else None."""
    if not runnable.get(key, True):
        return 'skipped (see a)'
    if runnable.get(key) is None and \
            mmdet_assign_bytes(inp) > memory_limit(opts.max_mem_gb):
        return 'skipped (memory)'
    return None


def section_loss(sizes: Sizes, opts: Options,
                 runnable: Dict[Tuple[int, int], bool] = None,
                 progress: Callable[[str], None] = lambda line: None
                 ) -> SectionResult:
    """Section b, one row per ``G``. ``runnable``: section a's
    ``mmdet_runnable`` (empty: decide from the memory estimate)."""
    runnable = runnable or {}
    num_imgs, img_size = sizes.a_imgs, sizes.a_size
    num_classes = sizes.a_classes
    heads = {impl: build_head(impl, num_classes) for impl in ('ours', 'mmdet')}
    result = SectionResult(
        f'(b) loss_by_feat (SimOTA included, forward only): B={num_imgs}, '
        f'{img_size}x{img_size}, C={num_classes}, {opts.threads} '
        f'thread(s); median of {sizes.repeats} (fewer when a call exceeds '
        f'{opts.time_budget:g}/{sizes.repeats} s)', HEADER, [])
    speedups = {}
    for num_gts in sizes.a_gts:
        inp = make_assign_inputs(num_imgs, img_size, num_gts, num_classes,
                                 seed=opts.seed + num_gts)
        outs = inp.head_outputs(requires_grad=True)
        metas = [dict(img_shape=(img_size, img_size))] * num_imgs
        skip = _skip(inp, (num_gts, num_classes), runnable, opts)
        fns = {impl: (lambda head=head: head.loss_by_feat(
            *outs, inp.gt_instances, metas))
            for impl, head in heads.items()
            if impl == 'ours' or skip is None}
        times, results = time_interleaved(fns, sizes.repeats, sizes.warmup,
                                          opts.time_budget)
        diff = '-'
        if skip is None:
            diff = f'{max_rel_diff(results["ours"], results["mmdet"]):.1e}'
        t_ours, t_mm = times['ours'], times.get('mmdet')
        speedups[num_gts] = t_mm / t_ours if t_mm else None
        result.rows.append([num_gts, fmt_ms(t_ours),
                            fmt_ms(t_mm) if t_mm else skip,
                            fmt_ratio(speedups[num_gts]), diff])
        progress(f'(b) G={num_gts}: ' +
                 ' | '.join(map(str, result.rows[-1][1:])))
        del inp, outs, results, fns
        gc.collect()
    g50 = 50 if 50 in speedups else list(speedups)[-1]
    result.summary.append(SummaryRow(
        f'(b) loss_by_feat speed-up at G={g50}', speedups.get(g50)))
    return result
