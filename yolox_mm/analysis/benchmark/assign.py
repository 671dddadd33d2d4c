"""Section a: SimOTA assignment of a batch, ours against mmdet 3.3.0.

Each timed call starts, as in the heads, from the raw outputs (priors
offset by half a stride, then the assignment). Ours: GT padding +
``SimOTAAssigner.batch_assign_logits`` on the batch, as our head does (the
scores ``sqrt(sigmoid(cls) * sigmoid(obj))`` are computed inside the
assigner, only where read); mmdet: the scores and its per-image
``SimOTAAssigner.assign`` loop exactly as its ``_get_targets_single`` does.
Inputs: :func:`yolox_mm.testing.synthetic.make_assign_inputs`. At
``Sizes.a_check_gts`` the two assignments are compared prior by prior.
Peak memory: :mod:`yolox_mm.testing.memory`; a case whose mmdet estimate
(:func:`mmdet_assign_bytes`) exceeds the limit is not run.
"""
import gc
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from yolox_mm.testing.memory import (GIB, memory_limit, peak_rss_delta,
                                     peak_rss_supported, smallest)
from yolox_mm.testing.synthetic import AssignInputs, make_assign_inputs
from .report import SectionResult, SummaryRow, fmt_mb, fmt_ms, fmt_ratio
from .sizes import Options, Sizes
from .timing import profile_table, time_interleaved

HEADER = ('GT/img', 'C', 'ours ms', 'mmdet ms', 'speed-up', 'ours MB',
          'mmdet MB', 'mem ours/mmdet', 'same assignment')
Reading = Tuple[str, Optional[int]]  # ('ok', bytes) or (reason, None)


def offset_priors(priors: Tensor) -> Tensor:
    """Grid priors ``[P, 4]`` ``(x, y, stride_w, stride_h)`` -> centres
    with the 0.5-stride offset (both heads)."""
    return torch.cat([priors[:, :2] + priors[:, 2:] * 0.5, priors[:, 2:]],
                     dim=1)


def assign_ours(assigner, inp: AssignInputs):
    """What our head's ``loss_by_feat`` + ``_assign`` do for the batch: pad
    the GTs, hand the logits to ``batch_assign_logits``."""
    from yolox_mm.models.dense_heads.yolox_head import pad_gt_instances
    gt_bboxes, gt_labels, gt_valid = pad_gt_instances(
        inp.gt_instances, inp.cls_logits.device)
    return assigner.batch_assign_logits(offset_priors(inp.priors),
                                        inp.pred_bboxes, inp.cls_logits,
                                        inp.obj_logits, gt_bboxes, gt_labels,
                                        gt_valid)


def assign_mmdet(assigner, inp: AssignInputs) -> list:
    """What mmdet's ``YOLOXHead._get_targets_single`` does, image by image,
    up to the assignment."""
    results = []
    for i, gt_instances in enumerate(inp.gt_instances):
        scores = (inp.cls_logits[i].sigmoid() *
                  inp.obj_logits[i].unsqueeze(1).sigmoid())
        pred_instances = InstanceData(bboxes=inp.pred_bboxes[i],
                                      scores=scores.sqrt_(),
                                      priors=offset_priors(inp.priors))
        results.append(assigner.assign(pred_instances=pred_instances,
                                       gt_instances=gt_instances))
    return results


def count_mismatches(ours, mmdet_results: list) -> int:
    """Priors whose assigned GT (or background) differs between our batch
    result (``fg_mask``, ``gt_inds`` ``[B, P]``) and mmdet's per-image
    ``AssignResult`` (``gt_inds`` 1-based, 0 = background)."""
    ours_inds = torch.where(ours.fg_mask, ours.gt_inds + 1, 0)
    return sum(int((ours_inds[i] != r.gt_inds).sum())
               for i, r in enumerate(mmdet_results))


def mmdet_assign_bytes(inp: AssignInputs, center_radius: float = 2.5
                       ) -> int:
    """mmdet's transient ``3 x [n_cand, G, C]`` float32 of the most crowded
    image (n_cand from the candidate rule, computed here)."""
    from yolox_mm.models.task_modules.assigners.sim_ota import \
        candidate_masks
    num_classes = inp.cls_logits.shape[2]
    worst = 0
    for gt in inp.gt_instances:
        num_gts = len(gt)
        if num_gts == 0:
            continue
        valid = torch.ones(1, num_gts, dtype=torch.bool)
        candidate, _ = candidate_masks(offset_priors(inp.priors),
                                       gt.bboxes[None], valid, center_radius)
        worst = max(worst, int(candidate.sum()) * num_gts)
    return 3 * 4 * worst * num_classes


@dataclass
class _Case:
    """One ``(G, C)`` case: its inputs, calls and readings."""
    num_gts: int
    num_classes: int
    run_ours: Callable[[], object]
    run_mmdet: Callable[[], object]
    mmdet_skip: Optional[str]
    mem_ours: Reading = ('n/a', None)
    mem_mmdet: Reading = ('n/a', None)
    times: Optional[Dict[str, float]] = None
    same: str = '-'


def _cases(sizes: Sizes) -> List[Tuple[int, int]]:
    return [(g, sizes.a_classes) for g in sizes.a_gts] + [
        (sizes.g50, sizes.a_big_classes)]


def _mmdet_skip(inp: AssignInputs, sizes: Sizes, limit: int) -> Optional[str]:
    need = mmdet_assign_bytes(inp)
    if inp.cls_logits.shape[2] != sizes.a_classes and \
            not sizes.a_big_classes_mmdet:
        return 'skipped (smoke)'
    if need > limit:
        return (f'skipped (needs ~{need / GIB:.1f} GB > limit '
                f'{limit / GIB:.1f} GB)')
    return None


def _measure_memory(case: _Case, n: int, limit: int,
                    run_base: Optional[Callable]) -> Optional[Reading]:
    """Peak-memory readings of ``case`` (the smaller of ``n`` for ours: a
    reading can only be inflated by pages of the parent's heap touched by
    chance). With ``run_base`` (the C-growth case), ours is paired with
    the C=80 inputs of the same geometry, measured alternately in the same
    parent state; returns that base reading."""
    base = None
    if run_base is not None:
        pairs = [(peak_rss_delta(run_base, limit),
                  peak_rss_delta(case.run_ours, limit)) for _ in range(n)]
        base = smallest([b for b, _ in pairs])
        case.mem_ours = smallest([o for _, o in pairs])
    else:
        case.mem_ours = smallest([peak_rss_delta(case.run_ours, limit)
                                  for _ in range(n)])
    if case.mmdet_skip is None:
        case.mem_mmdet = peak_rss_delta(case.run_mmdet, limit)
    return base


def _time_case(case: _Case, sizes: Sizes, opts: Options) -> None:
    """Time the calls whose memory child succeeded; compare assignments."""
    fns = {}
    if case.mem_ours[0] in ('ok', 'n/a'):
        fns['ours'] = case.run_ours
    if case.mmdet_skip is None and case.mem_mmdet[0] in ('ok', 'n/a'):
        fns['mmdet'] = case.run_mmdet
    with torch.no_grad():
        case.times, results = time_interleaved(
            fns, sizes.repeats, sizes.warmup, opts.time_budget)
        if case.num_gts in sizes.a_check_gts and len(fns) == 2 and \
                case.num_classes == sizes.a_classes:
            n_bad = count_mismatches(results['ours'], results['mmdet'])
            case.same = ('yes' if n_bad == 0 else 'no') + \
                f' ({n_bad} mismatching priors)'


def _row(case: _Case) -> list:
    t_ours, t_mm = case.times.get('ours'), case.times.get('mmdet')
    m_ours, m_mm = case.mem_ours[1], case.mem_mmdet[1]
    mm_time = fmt_ms(t_mm) if t_mm is not None else (
        case.mmdet_skip or case.mem_mmdet[0])
    return [
        case.num_gts, case.num_classes, fmt_ms(t_ours), mm_time,
        fmt_ratio(t_mm / t_ours if t_mm and t_ours else None),
        fmt_mb(m_ours) if m_ours is not None else case.mem_ours[0],
        fmt_mb(m_mm) if m_mm is not None else (case.mmdet_skip or
                                               case.mem_mmdet[0]),
        fmt_ratio(m_ours / m_mm if m_ours and m_mm else None), case.same
    ]


def _summary(cases: Dict[Tuple[int, int], _Case], sizes: Sizes,
             paired_base: Optional[int]) -> List[SummaryRow]:
    """Speed-up at G=50, and our memory growth C=1000 / C=80 from the
    paired readings (the table's C=80 row is kept as measured)."""
    g50 = sizes.g50
    base = cases.get((g50, sizes.a_classes))
    big = cases.get((g50, sizes.a_big_classes))
    t_ours, t_mm = base.times.get('ours'), base.times.get('mmdet')
    speedup = t_mm / t_ours if t_mm and t_ours else None
    m_big = big.mem_ours[1]
    growth = m_big / paired_base if m_big and paired_base else None
    mm_big, mm_base = big.mem_mmdet[1], base.mem_mmdet[1]
    mm_growth = mm_big / mm_base if mm_big and mm_base else None
    return [
        SummaryRow(f'(a) SimOTA speed-up at G={g50}', speedup),
        SummaryRow(
            f'(a) our assign memory C={sizes.a_big_classes} / '
            f'C={sizes.a_classes} (G={g50})', growth,
            note=(f'ours {fmt_mb(m_big)} / {fmt_mb(paired_base)} MB '
                  '(paired); mmdet: ')
            + (f'{mm_growth:.2f}x' if mm_growth else '-'))]


def _title(sizes: Sizes, opts: Options, mem_ok: bool) -> str:
    return (f'(a) SimOTA assignment: B={sizes.a_imgs}, {sizes.a_size}x'
            f'{sizes.a_size} input, {opts.threads} thread(s); time = median '
            f'of {sizes.repeats} after {sizes.warmup} warm-up (fewer when a '
            f'call exceeds {opts.time_budget:g}/{sizes.repeats} s); memory '
            '= peak RSS added by one call (forked child, 1 thread)'
            + ('' if mem_ok else ' [unavailable on this kernel]'))


def section_assign(sizes: Sizes, opts: Options,
                   progress: Callable[[str], None] = lambda line: None
                   ) -> SectionResult:
    """Section a: one row per ``(G, C)`` case, the summary lines and, per
    case, whether mmdet ran (``mmdet_runnable``, read by section b)."""
    from mmdet.models.task_modules.assigners import \
        SimOTAAssigner as MMDetSimOTA

    from yolox_mm.models.task_modules.assigners import SimOTAAssigner
    ours, mmdet = SimOTAAssigner(), MMDetSimOTA(center_radius=2.5)
    mem_ok = peak_rss_supported()
    result = SectionResult(_title(sizes, opts, mem_ok), HEADER, [])
    cases, base_inp, paired_base = {}, None, None
    for num_gts, num_classes in _cases(sizes):
        inp = make_assign_inputs(sizes.a_imgs, sizes.a_size, num_gts,
                                 num_classes, seed=opts.seed + num_gts)
        key = (num_gts, num_classes)
        if key == (sizes.g50, sizes.a_classes):
            base_inp = inp
        limit = memory_limit(opts.max_mem_gb)
        case = _Case(num_gts, num_classes,
                     lambda inp=inp: assign_ours(ours, inp),
                     lambda inp=inp: assign_mmdet(mmdet, inp),
                     _mmdet_skip(inp, sizes, limit))
        if mem_ok:
            pair = (key == (sizes.g50, sizes.a_big_classes)
                    and base_inp is not None)
            run_base = (lambda: assign_ours(ours, base_inp)) if pair \
                else None
            base = _measure_memory(case, sizes.a_mem_readings, limit,
                                   run_base)
            paired_base = base[1] if base is not None else paired_base
        _time_case(case, sizes, opts)
        result.rows.append(_row(case))
        progress(f'(a) G={num_gts} C={num_classes}: ' + ' | '.join(
            str(c) for c in result.rows[-1][2:]))
        cases[key] = case
        result.mmdet_runnable[key] = 'mmdet' in case.times
        if opts.profile and key == (50, sizes.a_classes):
            result.profiles.append(('(a) ours, batch_assign at G=50',
                                    profile_table(case.run_ours)))
        case.run_ours = case.run_mmdet = None  # free the inputs
        del inp
        gc.collect()
    result.summary = _summary(cases, sizes, paired_base)
    return result
