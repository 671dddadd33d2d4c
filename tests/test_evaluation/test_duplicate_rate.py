"""Duplicate rate (count_duplicates, DuplicateRateMetric) on hand-made
detections."""
import numpy as np
import pytest
import torch

from yolox_mm.evaluation import DuplicateRateMetric, count_duplicates

GTS = np.array([[0., 0., 10., 10.], [20., 0., 30., 10.]])
GT_LABELS = np.array([0, 0])


def test_second_hit_on_a_matched_gt_is_a_duplicate():
    dets = np.array([[0., 0., 10., 10.],    # GT0, score 0.9: match
                     [1., 0., 11., 10.],    # GT0 again (IoU 0.82): dup
                     [20., 0., 30., 10.],   # GT1: match
                     [50., 50., 60., 60.],  # nothing: false positive
                     [0., 1., 10., 11.]])   # GT0, score 0.2 < 0.3: ignored
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.2])
    labels = np.zeros(5, dtype=np.int64)
    assert count_duplicates(dets, scores, labels, GTS, GT_LABELS) == (4, 2, 1)


def test_score_order_decides_who_matches_and_classes_are_separate():
    # the lower-scored box comes first in the array: still the duplicate
    dets = np.array([[1., 0., 11., 10.], [0., 0., 10., 10.],
                     [0., 0., 10., 10.]])
    scores = np.array([0.5, 0.9, 0.95])
    labels = np.array([0, 0, 1])  # the last one is another class: FP
    assert count_duplicates(dets, scores, labels, GTS, GT_LABELS) == (3, 1, 1)


def test_a_box_that_can_take_another_gt_is_not_a_duplicate():
    # two GTs overlapping; the second box matches the free one
    gts = np.array([[0., 0., 10., 10.], [2., 0., 12., 10.]])
    dets = np.array([[0., 0., 10., 10.], [1., 0., 11., 10.]])
    assert count_duplicates(dets, np.array([0.9, 0.8]), np.zeros(2, int),
                            gts, np.zeros(2, int)) == (2, 2, 0)


def test_no_gt_or_no_detection():
    assert count_duplicates(np.zeros((0, 4)), np.zeros(0), np.zeros(0),
                            GTS, GT_LABELS) == (0, 0, 0)
    assert count_duplicates(GTS, np.array([0.5, 0.5]), GT_LABELS,
                            np.zeros((0, 4)), np.zeros(0)) == (2, 0, 0)


def test_metric_over_samples():
    metric = DuplicateRateMetric(score_thr=0.3, iou_thr=0.5)
    pred = dict(bboxes=torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.]]),
                scores=torch.tensor([0.9, 0.8]), labels=torch.tensor([0, 0]))
    gt = dict(bboxes=torch.tensor(GTS, dtype=torch.float32),
              labels=torch.tensor(GT_LABELS))
    metric.process({}, [dict(pred_instances=pred, gt_instances=gt)] * 2)
    results = metric.compute_metrics(metric.results)
    assert results['rate'] == pytest.approx(0.5)
    assert results['num_dets'] == 4 and results['num_duplicates'] == 2
    assert results['recall'] == pytest.approx(0.5)
