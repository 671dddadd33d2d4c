"""YOLOXBBoxCoder on hand-computed boxes, centres and scores."""
import math

import torch
from mmdet.models.task_modules.coders import BaseBBoxCoder

from yolox_mm.models.task_modules.coders import (YOLOXBBoxCoder,
                                                 best_class_scores,
                                                 prior_centers, score_product)
from yolox_mm.registry import TASK_UTILS

#: grid points (x, y, stride_w, stride_h), no offset
PRIORS = torch.tensor([[16., 24., 8., 8.], [32., 0., 32., 32.]])


def test_decode_by_hand():
    # prior 0: centre (16 + 0.5 * 8, 24 - 0.25 * 8) = (20, 22), size
    # (2 * 8, 1 * 8); prior 1: centre (32 + 32, 0 + 16) = (64, 16), size
    # (32, 64)
    deltas = torch.tensor([[0.5, -0.25, math.log(2), 0.],
                           [1., 0.5, 0., math.log(2)]])
    boxes = YOLOXBBoxCoder().decode(PRIORS, deltas)
    torch.testing.assert_close(boxes, torch.tensor([[12., 18., 28., 26.],
                                                    [48., -16., 80., 48.]]))
    # leading batch dimensions broadcast over the priors
    assert YOLOXBBoxCoder().decode(PRIORS, deltas.expand(3, 2, 4)).shape == (
        3, 2, 4)


def test_encode_is_the_l1_target_and_inverts_decode():
    gt = torch.tensor([[12., 18., 28., 26.], [48., -16., 80., 48.]])
    expected = torch.tensor([[0.5, -0.25, math.log(2), 0.],
                             [1., 0.5, 0., math.log(2)]])
    torch.testing.assert_close(YOLOXBBoxCoder(eps=0).encode(PRIORS, gt),
                               expected)
    # Megvii's eps inside the log: log(w / s + 1e-8)
    coder = YOLOXBBoxCoder()
    torch.testing.assert_close(coder.encode(PRIORS, gt)[0, 2],
                               torch.tensor(math.log(2 + 1e-8)))
    torch.testing.assert_close(coder.decode(PRIORS, coder.encode(PRIORS, gt)),
                               gt)


def test_prior_centers_add_half_a_stride():
    torch.testing.assert_close(
        prior_centers(PRIORS),
        torch.tensor([[20., 28., 8., 8.], [48., 16., 32., 32.]]))
    assert YOLOXBBoxCoder.prior_centers is prior_centers


def test_score_product_and_best_class():
    cls_probs = torch.tensor([[[0.2, 0.6], [0.9, 0.1]]])  # [1, 2, 2]
    obj_probs = torch.tensor([[0.5, 0.25]])
    torch.testing.assert_close(
        score_product(cls_probs, obj_probs),
        torch.tensor([[[0.1, 0.3], [0.225, 0.025]]]))
    scores, labels = best_class_scores(cls_probs, obj_probs)
    torch.testing.assert_close(scores, torch.tensor([[0.3, 0.225]]))
    assert labels.tolist() == [[1, 0]]


def test_registered_and_an_mmdet_coder():
    coder = TASK_UTILS.build(dict(type='yolox_mm.YOLOXBBoxCoder', eps=0.5))
    assert isinstance(coder, YOLOXBBoxCoder)
    assert isinstance(coder, BaseBBoxCoder) and coder.eps == 0.5
