"""One-to-one assignment with SimOTA's cost (OneToOneAssigner) on hand-made
costs and against SimOTA's own one-to-many choice."""
import math

import torch

from yolox_mm.models.task_modules.assigners import (OneToOneAssigner,
                                                    SimOTAAssigner,
                                                    match_one_to_one)

INF = math.inf


def _assign(cost, gt_valid, num_classes=1):
    """Run the assigner with a given ``[B, P, G]`` cost."""
    num_imgs, num_priors, num_gts = cost.shape
    return OneToOneAssigner().batch_assign_logits(
        torch.zeros(num_priors, 4), torch.zeros(num_imgs, num_priors, 4),
        torch.zeros(num_imgs, num_priors, num_classes),
        torch.zeros(num_imgs, num_priors), torch.zeros(num_imgs, num_gts, 4),
        torch.zeros(num_imgs, num_gts, dtype=torch.long), gt_valid,
        cost=cost)


def test_shared_best_prior_goes_to_the_cheaper_gt():
    # image 0: GT0 and GT1 both prefer prior 1; GT1 is cheaper there, so
    # GT1 takes prior 1 and GT0 its next best, prior 0. GT2 is padding
    # (its finite costs must be ignored). Image 1 has no GT at all.
    cost = torch.tensor([[[1.0, 2.0, 0.0],
                          [0.5, 0.2, 0.0],
                          [3.0, 0.9, 0.0],
                          [INF, INF, 0.0],
                          [INF, INF, 0.0]]]).repeat(2, 1, 1)
    gt_valid = torch.tensor([[True, True, False], [False, False, False]])
    result = _assign(cost, gt_valid)
    assert result.fg_mask.tolist() == [[True, True, False, False, False],
                                       [False] * 5]
    assert result.gt_inds[0, :2].tolist() == [0, 1]


def test_each_valid_gt_gets_exactly_one_distinct_prior():
    torch.manual_seed(0)
    cost = torch.rand(3, 30, 6)
    cost[:, 20:] = INF  # non-candidates
    gt_valid = torch.tensor([[True] * 6, [True] * 4 + [False] * 2,
                             [True] + [False] * 5])
    prior_of_gt = match_one_to_one(
        cost.masked_fill(~gt_valid[:, None, :], INF))
    for img in range(3):
        valid = prior_of_gt[img][gt_valid[img]]
        assert (valid >= 0).all() and (valid < 20).all()
        assert len(set(valid.tolist())) == len(valid)  # no shared prior
        assert (prior_of_gt[img][~gt_valid[img]] == -1).all()
    result = _assign(cost, gt_valid)
    assert result.fg_mask.sum(1).tolist() == [6, 4, 1]


def test_tie_goes_to_the_first_gt_and_no_candidate_gives_nothing():
    cost = torch.tensor([[[1.0, 1.0, INF],
                          [2.0, 3.0, INF]]])
    prior_of_gt = match_one_to_one(cost)
    assert prior_of_gt.tolist() == [[0, 1, -1]]


def test_no_gt_gives_no_target():
    result = OneToOneAssigner().batch_assign_logits(
        torch.zeros(5, 4), torch.zeros(2, 5, 4), torch.zeros(2, 5, 3),
        torch.zeros(2, 5), torch.zeros(2, 0, 4),
        torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 0, dtype=bool))
    assert not result.fg_mask.any()


def test_lone_gt_takes_its_cheapest_simota_positive():
    """With SimOTA's own cost and a single GT, the one-to-one prior is the
    one-to-many positive of least cost: both assignments agree."""
    torch.manual_seed(1)
    ys, xs = torch.meshgrid(torch.arange(8.), torch.arange(8.),
                            indexing='ij')
    priors = torch.stack([xs.flatten() * 8 + 4, ys.flatten() * 8 + 4,
                          torch.full((64, ), 8.), torch.full((64, ), 8.)], 1)
    gt = torch.tensor([[[12., 10., 44., 40.]]])
    ctr = priors[None, :, :2] + torch.randn(1, 64, 2) * 3
    wh = torch.rand(1, 64, 2) * 30 + 10
    pred = torch.cat([ctr - wh / 2, ctr + wh / 2], -1)
    cls_logits, obj_logits = torch.randn(1, 64, 2), torch.randn(1, 64)
    labels, valid = torch.tensor([[1]]), torch.tensor([[True]])
    o2m = SimOTAAssigner().batch_assign_logits(priors, pred, cls_logits,
                                               obj_logits, gt, labels, valid)
    o2o = OneToOneAssigner().batch_assign_logits(priors, pred, cls_logits,
                                                 obj_logits, gt, labels, valid)
    assert o2o.fg_mask.sum() == 1 and o2m.fg_mask.sum() >= 1
    chosen = o2o.fg_mask[0].nonzero()[0, 0]
    assert o2m.fg_mask[0, chosen]  # one of SimOTA's positives
    # ... the cheapest: largest IoU - class cost trade-off = SimOTA cost
    from yolox_mm.models.task_modules.assigners import ClassProbs, simota_cost
    cost, _ = simota_cost(priors, pred, ClassProbs(
        cls_logits=cls_logits, obj_logits=obj_logits), gt, labels, valid)
    pos = o2m.fg_mask[0].nonzero()[:, 0]
    assert chosen == pos[cost[0, pos, 0].argmin()]
    torch.testing.assert_close(o2o.ious[0, chosen], o2m.ious[0, chosen])
