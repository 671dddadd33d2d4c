"""Confusion matrix (``yolox_mm.analysis.confusion``, mmdet's counting;
``tools/analysis_tools/confusion_matrix.py``) and per-class AP
(``tools/test.py --classwise``, mmdet's CocoMetric) on predictions made by
hand for the tiny dataset, so every number is known."""
import json
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from yolox_mm.analysis.confusion import confusion_matrix
from yolox_mm.registry import DATASETS, METRICS
from yolox_mm.utils.launch import enable_classwise
from .tiny_data import BOXES, CLASSES, IMAGE_SHAPE, REPO

CONFUSION = REPO / 'tools' / 'analysis_tools' / 'confusion_matrix.py'
TEST = REPO / 'tools' / 'test.py'


def xyxy(box):
    x, y, w, h = box
    return [x, y, x + w, y + h]


def pred(boxes, scores, labels):
    return dict(bboxes=torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
                scores=torch.tensor(scores, dtype=torch.float32),
                labels=torch.tensor(labels, dtype=torch.long))


def hand_results():
    """Image 0: its tree found as tree (score 0.9), its shrub found as a
    tree (0.8), a shrub where there is nothing (0.7), a tree below the
    threshold (0.1); images 1-3: nothing."""
    tree, shrub = (xyxy(b) for _, b in BOXES[0])
    first = pred([tree, shrub, [0, 100, 20, 119], [60, 0, 70, 10]],
                 [0.9, 0.8, 0.7, 0.1], [0, 0, 1, 0])
    return [dict(img_id=i + 1, pred_instances=first if i == 0 else
                 pred([], [], [])) for i in range(len(BOXES))]


#: Rows GT (tree, shrub, background), columns predicted (mmdet's
#: counting). Missed (last column): the shrub of image 0 (found only as a
#: tree) and the 7 GTs of images 1-3 (4 trees, 3 shrubs).
EXPECTED = np.array([[1, 0, 4],   # 1 tree found; 4 trees missed (images 1-3)
                     [1, 0, 4],   # shrub of image 0 as tree; 4 shrubs missed
                     [0, 1, 0]])  # 1 background shrub


@pytest.fixture(scope='module')
def dataset(tiny):
    cfg = Config.fromfile(str(tiny.config))
    init_default_scope('yolox_mm')
    return DATASETS.build(cfg.test_dataloader.dataset)


def test_confusion_matrix_by_hand(dataset):
    matrix = confusion_matrix(dataset, hand_results(), score_thr=0.3)
    np.testing.assert_array_equal(matrix, EXPECTED)
    with pytest.raises(ValueError, match='3 results for a dataset of 4'):
        confusion_matrix(dataset, hand_results()[:3])


@pytest.mark.slow  # a subprocess (pytest.ini)
def test_confusion_matrix_cli(tiny, tmp_path):
    pkl = tmp_path / 'results.pkl'
    pkl.write_bytes(pickle.dumps(hand_results()))
    proc = subprocess.run([sys.executable, str(CONFUSION), str(tiny.config),
                           str(pkl), str(tmp_path / 'cm')],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = json.loads((tmp_path / 'cm' / 'confusion_matrix.json')
                       .read_text())
    assert saved['labels'] == list(CLASSES) + ['background']
    assert saved['matrix'] == EXPECTED.tolist()
    img = cv2.imread(str(tmp_path / 'cm' / 'confusion_matrix.png'))
    assert img.shape[0] >= 300 and img.shape[1] >= 400
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert ['background', '0', '1', '0'] in rows
    assert ['tree', '1', '0', '4'] in rows


def coco_metric(tiny):
    cfg = Config.fromfile(str(tiny.config))
    assert enable_classwise(cfg) == 2  # val and test evaluators
    assert cfg.test_evaluator.classwise is True
    init_default_scope('yolox_mm')
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def test_classwise_ap_by_hand(tiny):
    """Every tree found exactly, no shrub: AP tree 1, shrub 0, mAP 0.5."""
    metric = coco_metric(tiny)
    samples = []
    for i, img_boxes in enumerate(BOXES):
        trees = [xyxy(b) for label, b in img_boxes if label == 0]
        samples.append(dict(img_id=i + 1, ori_shape=IMAGE_SHAPE,
                            pred_instances=pred(trees, [0.9] * len(trees),
                                                [0] * len(trees))))
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    assert results['coco/tree_precision'] == 1.0
    assert results['coco/shrub_precision'] == 0.0
    assert results['coco/bbox_mAP'] == 0.5


def test_enable_classwise_needs_coco_metric():
    cfg = Config(dict(test_evaluator=dict(type='VOCMetric')))
    with pytest.raises(ValueError, match='needs a CocoMetric'):
        enable_classwise(cfg)


@pytest.mark.slow  # a subprocess (pytest.ini)
def test_test_py_classwise(tiny, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(TEST), str(tiny.config), str(tiny.checkpoint),
         '--work-dir', str(tmp_path), '--classwise'],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('bbox mAP per class: tree ')
    assert ', shrub ' in last
