"""Duplicate rate of a detector: how many confident detections are second
hits on an object that an earlier (higher-scored) detection already took.

The measure of the end-to-end (NMS-free) comparison of docs/end_to_end.md:
a one-to-many YOLOX without NMS gives several boxes per object, NMS or a
trained positive-sample selector (PSS, Zhou et al., arXiv 2101.11782)
removes them.
"""
from typing import Dict, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from yolox_mm.registry import METRICS


def _iou(boxes: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """``[N, M]`` IoU of xyxy boxes ``[N, 4]`` and ``[M, 4]``."""
    lt = np.maximum(boxes[:, None, :2], gts[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], gts[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_b = (boxes[:, 2:] - boxes[:, :2]).clip(0).prod(axis=1)
    area_g = (gts[:, 2:] - gts[:, :2]).clip(0).prod(axis=1)
    union = area_b[:, None] + area_g[None, :] - inter
    return inter / np.maximum(union, 1e-6)


def count_duplicates(bboxes: np.ndarray, scores: np.ndarray,
                     labels: np.ndarray, gt_bboxes: np.ndarray,
                     gt_labels: np.ndarray, score_thr: float = 0.3,
                     iou_thr: float = 0.5) -> Tuple[int, int, int]:
    """Detections, matches and duplicates of one image.

    Detections with ``score >= score_thr`` are visited by decreasing score
    (stable on ties). A detection **matches** the unmatched GT of its
    class with which it has the largest IoU, if that IoU is ``>=
    iou_thr`` (COCO's greedy rule); it is a **duplicate** if it matches no
    unmatched GT but has IoU ``>= iou_thr`` with a GT of its class that an
    earlier detection matched. Others are plain false positives.

    Args:
        bboxes (np.ndarray): ``[N, 4]`` xyxy detections (any pixel frame,
            the same as the GTs); scores ``[N]``; labels ``[N]``.
        gt_bboxes (np.ndarray): ``[M, 4]`` xyxy; gt_labels ``[M]``.
        score_thr (float): Confidence threshold. Defaults to 0.3.
        iou_thr (float): Match threshold. Defaults to 0.5.

    Returns:
        tuple[int, int, int]: ``(num_dets, num_matched, num_duplicates)``
        counted over the detections with ``score >= score_thr``.
    """
    keep = scores >= score_thr
    order = np.argsort(-scores[keep], kind='stable')
    bboxes, labels = bboxes[keep][order], labels[keep][order]
    if len(bboxes) == 0 or len(gt_bboxes) == 0:
        return len(bboxes), 0, 0
    ious = _iou(bboxes.astype(np.float64), gt_bboxes.astype(np.float64))
    ious[labels[:, None] != gt_labels[None, :]] = 0.0
    matched = np.zeros(len(gt_bboxes), dtype=bool)
    num_matched = num_dup = 0
    for row in ious:
        hits = row >= iou_thr
        free = hits & ~matched
        if free.any():
            matched[np.argmax(np.where(free, row, -1.0))] = True
            num_matched += 1
        elif hits.any():
            num_dup += 1
    return len(bboxes), num_matched, num_dup


@METRICS.register_module()
class DuplicateRateMetric(BaseMetric):
    """Duplicate rate over a dataset: ``duplicates / detections`` with
    ``score >= score_thr`` (:func:`count_duplicates`), in the pixels of the
    original images: the predictions after ``rescale`` and the data
    samples' ``gt_instances``, which mmdet's test pipelines load *after*
    ``Resize`` (so in original pixels; crowd boxes go to
    ``ignored_instances`` and are not counted).

    Args:
        score_thr (float): Defaults to 0.3.
        iou_thr (float): Defaults to 0.5.
        prefix (str): Metric prefix. Defaults to ``'dup'``.

    Metrics: ``dup/rate``, ``dup/num_dets``, ``dup/num_duplicates``,
    ``dup/recall`` (matched GTs / all GTs at this threshold).
    """

    default_prefix = 'dup'

    def __init__(self, score_thr: float = 0.3, iou_thr: float = 0.5,
                 collect_device: str = 'cpu', prefix: str = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.score_thr = score_thr
        self.iou_thr = iou_thr

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_instances']
            gt = sample['gt_instances']
            gt_bboxes = gt['bboxes']
            gt_bboxes = getattr(gt_bboxes, 'tensor', gt_bboxes)
            gt_bboxes = np.asarray(gt_bboxes.cpu().numpy() if hasattr(
                gt_bboxes, 'cpu') else gt_bboxes).reshape(-1, 4)
            gt_labels = np.asarray(gt['labels'].cpu().numpy() if hasattr(
                gt['labels'], 'cpu') else gt['labels'])
            counts = count_duplicates(
                pred['bboxes'].cpu().numpy(), pred['scores'].cpu().numpy(),
                pred['labels'].cpu().numpy(), gt_bboxes, gt_labels,
                self.score_thr, self.iou_thr)
            self.results.append(counts + (len(gt_bboxes), ))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        dets, matched, dups, gts = (sum(r[i] for r in results)
                                    for i in range(4))
        metrics = dict(rate=dups / max(dets, 1), num_dets=float(dets),
                       num_duplicates=float(dups),
                       recall=matched / max(gts, 1))
        MMLogger.get_current_instance().info(
            f'duplicate rate at score >= {self.score_thr}, IoU >= '
            f'{self.iou_thr}: {dups}/{dets} = {metrics["rate"]:.4f}; '
            f'recall {matched}/{gts}')
        return metrics
