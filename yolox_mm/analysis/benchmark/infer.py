"""Section e: inference latency at batch 1.

``model.predict`` (post-processing and NMS included, ``rescale=True``) on a
preprocessed input: ours, ours after ``fuse_conv_bn``, ours after
``optimize_for_inference(fold_bn=True, channels_last=True)``,
mmdet's, and Megvii's forward + ``yolox.utils.postprocess`` (yolox-datamint
0.3.1, score threshold and class-aware NMS at the same settings,
:func:`~.megvii.megvii_predict`), same weights (Megvii's through the key
map); the detections and the raw head outputs are compared with mmdet's.
The weights are calibrated (:mod:`yolox_mm.testing.calibrate`) so that
10 % of the priors pass ``score_thr`` (a plausible NMS load). Megvii's NMS
is mmcv's compiled one behind a torchvision stand-in when torchvision is
not installed (:mod:`yolox_mm.testing.megvii`). FLOPs are counted
(:func:`~.flops.conv_flops`) and the attained GFLOP/s is compared with the
fp32 peak of a ``torch.mm``.
"""
import copy
import gc
import math
from typing import Callable, Dict

import numpy as np
import torch
from mmengine.structures import InstanceData

from yolox_mm.testing.calibrate import (calibrate_objectness,
                                        normalise_head_outputs,
                                        reset_bn_statistics)
from yolox_mm.testing.reference import build_detector
from yolox_mm.testing.synthetic import smooth_image
from .flops import conv_flops, matmul_peak
from .megvii import megvii_predict, use_megvii
from .report import SectionResult, SummaryRow, fmt_ms, fmt_ratio
from .sizes import Options, Sizes
from .timing import time_interleaved

HEADER = ('model', 'impl', 'ms', 'speed-up vs mmdet', 'speed-up vs Megvii',
          'GFLOP', 'GFLOP/s', '% of mm peak', 'pre-NMS boxes',
          'detections vs mmdet (count, box distance, raw outputs)')
RAW_NOTE = ('raw outputs: largest |ours - mmdet| of the head outputs (cls, '
            'reg, obj logits) over the largest |mmdet| of the same output')
#: The models of section e: (key, label). ``fused_cl`` is
#: ``optimize_for_inference(fold_bn=True, channels_last=True)``.
INFER_MODELS = (('ours', 'ours'), ('fused', 'ours + fuse_conv_bn'),
                ('fused_cl', 'ours + fuse_conv_bn + channels_last'),
                ('mmdet', 'mmdet'))
#: The Megvii row (``Options.megvii``).
MEGVII_MODEL = ('megvii', 'Megvii')
#: Keys of our models (the rows with speed-ups).
OURS = ('ours', 'fused', 'fused_cl')


def detection_distance(a: InstanceData, b: InstanceData) -> float:
    """Largest distance (px, L-inf over xyxy) from a detection of either set
    to the nearest detection of the same label in the other; order-free
    (near-equal scores may swap places between implementations)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else math.inf
    dist = (a.bboxes[:, None] - b.bboxes[None]).abs().amax(-1)  # [Na, Nb]
    dist = dist.masked_fill(a.labels[:, None] != b.labels[None], math.inf)
    return max(dist.amin(1).max().item(), dist.amin(0).max().item())


def raw_output_diff(ours: tuple, ref: tuple) -> float:
    """Largest ``max |a - b| / max |b|`` over the per-level head outputs
    (``_forward``: cls, reg, obj maps) of two models."""
    return max(float((a - b).abs().max() / b.abs().max().clamp(min=1e-12))
               for outs_a, outs_b in zip(ours, ref)
               for a, b in zip(outs_a, outs_b))


def calibrated_models(scale: str, size: int, seed: int,
                      with_megvii: bool = False):
    """The four :data:`INFER_MODELS` (and Megvii's, ``with_megvii``) with
    the same calibrated weights, the preprocessed input ``[1, 3, size,
    size]``, its data samples and the number of priors above
    ``score_thr``."""
    from mmdet.structures import DetDataSample
    ref = build_detector('mmdet', scale, batch_augments=False)
    rng = np.random.RandomState(seed)
    img = torch.from_numpy(smooth_image(size, size, rng)).permute(
        2, 0, 1).contiguous()
    sample = DetDataSample(metainfo=dict(
        img_shape=(size, size), ori_shape=(size, size),
        scale_factor=(1.0, 1.0)))
    data = ref.data_preprocessor(dict(inputs=[img], data_samples=[sample]),
                                 False)
    inputs, samples = data['inputs'], data['data_samples']
    reset_bn_statistics(ref, inputs)
    normalise_head_outputs(ref, inputs)
    n_cand = calibrate_objectness(ref, inputs, 0.1,
                                  ref.bbox_head.test_cfg.score_thr)
    ours = build_detector('ours', scale, batch_augments=False)
    ours.load_state_dict(ref.state_dict(), strict=True)
    fused = copy.deepcopy(ours).fuse_conv_bn()
    fused_cl = copy.deepcopy(ours).optimize_for_inference(
        fold_bn=True, channels_last=True)
    models = dict(ours=ours, fused=fused, fused_cl=fused_cl, mmdet=ref)
    if with_megvii:
        from yolox_mm.testing.megvii import build_megvii, load_ours_into_megvii
        models['megvii'] = load_ours_into_megvii(
            build_megvii(scale), ref.state_dict()).eval()
    return models, inputs, samples, n_cand


def _case_rows(label: str, times: Dict[str, float], dets: dict, raw: dict,
               flops: int, peak: float, n_cand: int) -> list:
    """One row per model of ``times``; speed-ups only in our rows."""
    rows, mv = [], times.get('megvii')
    for name, impl in INFER_MODELS + (MEGVII_MODEL, ):
        if name not in times:
            continue
        d, ref = dets[name], dets['mmdet']
        same = '-'
        if name != 'mmdet':
            same = (f'{len(d)} vs {len(ref)}, max |dbox| '
                    f'{detection_distance(d, ref):.1e} px, raw '
                    f'{raw_output_diff(raw[name], raw["mmdet"]):.1e}')
        ours = name in OURS
        rows.append([label, impl, fmt_ms(times[name]),
                     fmt_ratio(times['mmdet'] / times[name]) if ours else '-',
                     fmt_ratio(mv / times[name]) if ours and mv else '-',
                     f'{flops / 1e9:.2f}', f'{flops / times[name] / 1e9:.1f}',
                     f'{100 * flops / times[name] / peak:.0f}%',
                     f'{n_cand}', same])
    return rows


def _calls(models: dict, inputs, samples) -> dict:
    """Name -> inference call: ``predict`` of the mmdet-style models (one
    list of data samples each: predict writes into them), Megvii's forward
    + postprocess."""
    fns = {name: (lambda m=m, s=copy.deepcopy(samples):
                  m.predict(inputs, s, rescale=True)[0].pred_instances)
           for name, m in models.items() if name != 'megvii'}
    if 'megvii' in models:
        cfg = models['mmdet'].bbox_head.test_cfg
        fns['megvii'] = lambda m=models['megvii']: megvii_predict(
            m, inputs, cfg.score_thr, cfg.nms.iou_threshold)
    return fns


def _raw_outputs(models: dict, inputs) -> dict:
    """Raw head outputs ``(cls, reg, obj)`` per level of each model."""
    from yolox_mm.testing.megvii import megvii_head_outputs
    return {name: (megvii_head_outputs(m, inputs) if name == 'megvii' else
                   m._forward(inputs)) for name, m in models.items()}


def _summary(label: str, times: Dict[str, float]) -> list:
    rows = []
    for name, impl in INFER_MODELS:
        if name in OURS:
            rows.append(SummaryRow(f'(e) latency {label}, {impl}, vs mmdet',
                                   times['mmdet'] / times[name]))
            if 'megvii' in times:
                rows.append(SummaryRow(
                    f'(e) latency {label}, {impl}, vs Megvii',
                    times['megvii'] / times[name]))
    return rows


def section_infer(sizes: Sizes, opts: Options,
                  progress: Callable[[str], None] = lambda line: None
                  ) -> SectionResult:
    """Section e: four rows (five with Megvii) per ``(scale, size)`` of
    ``sizes.e_cases``."""
    peak = matmul_peak(sizes.mm_n)
    result = SectionResult(
        f'(e) inference latency, batch 1, model.predict (NMS included); '
        f'{opts.threads} thread(s); median of {sizes.repeats}; fp32 '
        f'torch.mm peak of this CPU: {peak / 1e9:.1f} GFLOP/s', HEADER, [],
        notes=[RAW_NOTE])
    for scale, size in sizes.e_cases:
        models, inputs, samples, n_cand = calibrated_models(
            scale, size, opts.seed, use_megvii(opts))
        fns = _calls(models, inputs, samples)
        with torch.no_grad():
            times, dets = time_interleaved(fns, sizes.repeats, sizes.warmup)
            raw = _raw_outputs(models, inputs)
        flops = conv_flops(models['ours'], inputs)
        label = f'YOLOX-{scale} {size}'
        result.rows += _case_rows(label, times, dets, raw, flops, peak,
                                  n_cand)
        result.summary += _summary(label, times)
        del models, raw, fns, dets
        gc.collect()
    return result
