"""``yolox_mm.analysis.assignment`` and ``tools/analysis_tools/
visualize_assign.py``.

Reference: mmdet 3.3.0's ``SimOTAAssigner.assign`` run image by image on the
same head outputs (the positives and their GTs), and the dynamic k computed
here GT by GT with mmdet's ``bbox_overlaps`` (paper section 2.1: ``max(1,
int(sum of the 10 largest IoUs with candidate priors)))``)."""
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmdet.apis import init_detector
from mmdet.models.task_modules.assigners import \
    SimOTAAssigner as MMDetSimOTAAssigner
from mmdet.structures.bbox import bbox_overlaps
from mmengine.structures import InstanceData

from yolox_mm.analysis.assignment import (UNMATCHED_COLOR, Assignment,
                                          draw_assignment, gt_colors,
                                          head_predictions, simota_assignment)
from yolox_mm.analysis.samples import build_dataset, find_index, load_sample
from .tiny_data import REPO

VISUALIZE_ASSIGN = REPO / 'tools' / 'analysis_tools' / 'visualize_assign.py'
#: A large GT (many well-overlapping predictions: k > 1), a small one and
#: one beside it, in input pixels of the 128 x 128 canvas.
GT_BBOXES = torch.tensor([[16., 16., 112., 104.], [4., 4., 28., 22.],
                          [90., 100., 126., 126.]])
GT_LABELS = torch.tensor([0, 1, 0])


@pytest.fixture(scope='module')
def model_and_sample(tiny):
    model = init_detector(str(tiny.config), str(tiny.checkpoint),
                          device='cpu')
    dataset = build_dataset(model.cfg, 'val')
    return model, load_sample(model, dataset, find_index(dataset,
                                                         'img1.png'))


def hand_dynamic_ks(priors, pred_bboxes, gt_bboxes, radius=2.5, topk=10):
    cx, cy, stride = priors[:, 0], priors[:, 1], priors[:, 2]
    candidate = torch.zeros(len(priors), dtype=torch.bool)
    for x1, y1, x2, y2 in gt_bboxes.tolist():
        in_box = (cx > x1) & (cx < x2) & (cy > y1) & (cy < y2)
        gx, gy = (x1 + x2) / 2, (y1 + y2) / 2
        in_ctr = ((cx > gx - radius * stride) & (cx < gx + radius * stride)
                  & (cy > gy - radius * stride) & (cy < gy + radius * stride))
        candidate |= in_box | in_ctr
    ks = []
    for box in gt_bboxes:
        ious = bbox_overlaps(pred_bboxes, box[None])[:, 0]
        ious[~candidate] = 0
        ks.append(max(1, int(ious.topk(topk).values.sum())))
    return ks


def test_assignment_matches_mmdet_and_hand_k(model_and_sample):
    model, sample = model_and_sample
    result = simota_assignment(model, sample.inputs, GT_BBOXES, GT_LABELS)
    priors, pred_bboxes, cls, obj = head_predictions(model, sample.inputs)
    assert torch.equal(result.priors, priors)

    scores = (cls[0].sigmoid() * obj[0, :, None].sigmoid()).sqrt()
    ref = MMDetSimOTAAssigner(center_radius=2.5, candidate_topk=10,
                              iou_weight=3.0, cls_weight=1.0).assign(
        InstanceData(priors=priors, bboxes=pred_bboxes[0], scores=scores),
        InstanceData(bboxes=GT_BBOXES, labels=GT_LABELS))
    assert torch.equal(result.gt_inds, ref.gt_inds - 1)
    assert result.dynamic_ks.tolist() == hand_dynamic_ks(
        priors, pred_bboxes[0], GT_BBOXES)
    assert result.dynamic_ks[0] > 1, 'the large GT should get k > 1'
    for g in range(len(GT_BBOXES)):
        assert 0 < len(result.positives(g)) <= result.dynamic_ks[g]


def test_bad_inputs(model_and_sample):
    model, sample = model_and_sample
    with pytest.raises(KeyError, match="no image 'nope.png'"):
        find_index(build_dataset(model.cfg, 'val'), 'nope.png')
    with pytest.raises(ValueError, match=r'\[1, 3, H, W\]'):
        simota_assignment(model, sample.inputs[0], GT_BBOXES, GT_LABELS)
    with pytest.raises(ValueError, match=r'\[G, 4\]'):
        simota_assignment(model, sample.inputs, GT_BBOXES[:, :3], GT_LABELS)


def test_draw_assignment_by_hand():
    """GT 0 has two positives (a stride-8 and a stride-32 prior), GT 1
    none: dots of GT 0's colour at the (scaled) prior centres, GT 1 red."""
    priors = torch.tensor([[20., 20., 8., 8.], [36., 28., 32., 32.],
                           [60., 60., 8., 8.]])
    assignment = Assignment(
        priors=priors, gt_bboxes=torch.tensor([[10., 10., 50., 40.],
                                               [55., 50., 75., 70.]]),
        gt_labels=torch.tensor([0, 1]), dynamic_ks=torch.tensor([3, 1]),
        num_candidates=torch.tensor([2, 1]),
        gt_inds=torch.tensor([0, 0, -1]), ious=torch.zeros(3))
    image = np.full((80, 80, 3), 114, np.uint8)
    drawn = draw_assignment(image, assignment, ('tree', 'shrub'), scale=2)
    assert drawn.shape == (160, 160, 3)
    color = np.array(gt_colors(2)[0])
    assert (drawn[40, 40] == color).all()  # prior (20, 20) x 2
    assert (drawn[56, 72] == color).all()  # prior (36, 28) x 2
    assert (drawn[120, 120] == 114).all()  # the negative prior: not drawn
    assert (drawn[100, 130] == UNMATCHED_COLOR).all()  # GT 1's top edge
    assert (drawn[60, 20] == color).all()  # GT 0's left edge (x = 10 x 2)
    with pytest.raises(ValueError, match='scale'):
        draw_assignment(image, assignment, scale=0)


@pytest.mark.slow  # a subprocess (pytest.ini)
def test_visualize_assign_cli(tiny, model_and_sample, tmp_path):
    model, sample = model_and_sample
    out = tmp_path / 'assign.png'
    proc = subprocess.run(
        [sys.executable, str(VISUALIZE_ASSIGN), str(tiny.config),
         str(tiny.checkpoint), '--image', 'img1.png', '--out', str(out)],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert cv2.imread(str(out)).shape == (640, 640, 3)  # 128 x 5
    expected = simota_assignment(model, sample.inputs, sample.gt_bboxes,
                                 sample.gt_labels)
    lines = [line for line in proc.stdout.splitlines()
             if line.startswith('GT ')]
    assert len(lines) == len(sample.gt_bboxes) == 3
    for g, line in enumerate(lines):
        assert f'k={int(expected.dynamic_ks[g])}, ' \
            f'{len(expected.positives(g))} positives' in line
