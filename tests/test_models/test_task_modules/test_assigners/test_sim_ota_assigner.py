"""SimOTA on cases small enough to work out on paper: the step functions of
``sim_ota`` one by one, then ``SimOTAAssigner``, which composes them."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from yolox_mm.models.task_modules.assigners import (Cheapest, ClassProbs,
                                                     Selection,
                                                     SimOTAAssigner,
                                                     candidate_masks,
                                                     cheapest_gt, class_cost,
                                                     dynamic_k,
                                                     matching_cost,
                                                     pairwise_iou,
                                                     prior_class_sum,
                                                     resolve_conflicts,
                                                     select_dynamic_k)
from yolox_mm.models.task_modules.assigners.sim_ota import EPS, INF


def dynamic_k_matching(cost, ious, candidate, gt_valid, candidate_topk=10):
    """Steps 3 and 4 on a literal cost table, composed as the assigner does
    (``_select_block``): the table goes through :func:`matching_cost` with
    ``iou_weight=0`` and every pair "in both", so that only its ``+inf``
    for non-candidate priors and padded GTs acts (the table's numbers are
    kept exactly: ``cost + 0 * -log(IoU + EPS) + 0``)."""
    cost = matching_cost(cost, ious, torch.ones_like(cost, dtype=torch.bool),
                         candidate, gt_valid, iou_weight=0.0)
    ious = ious.masked_fill(~candidate[:, :, None], 0)  # as pairwise_iou
    return resolve_conflicts(
        select_dynamic_k(cost, ious, candidate_topk),
        cheapest_gt(cost, ious))


def test_dynamic_k_matching_hand_case():
    # 6 priors x 2 GTs. p5 is not a candidate: its cost and IoU must be
    # ignored although it would win everything.
    ious = torch.tensor([[0.9, 0.0],
                         [0.8, 0.1],
                         [0.6, 0.7],
                         [0.0, 0.9],
                         [0.1, 0.6],
                         [1.0, 1.0]])
    cost = torch.tensor([[1.0, 9.0],
                         [2.0, 8.0],
                         [1.8, 1.5],
                         [9.0, 1.0],
                         [5.0, 2.0],
                         [0.1, 0.1]])
    candidate = torch.tensor([True] * 5 + [False])
    # dynamic k (top-10 IoUs of candidates, summed, floored, >= 1):
    #   GT0: 0.9 + 0.8 + 0.6 + 0.1 + 0.0 = 2.4 -> k = 2 -> p0 (1.0), p2 (1.8)
    #   GT1: 0.9 + 0.7 + 0.6 + 0.1 + 0.0 = 2.3 -> k = 2 -> p3 (1.0), p2 (1.5)
    # p2 is claimed twice and goes to its cheaper GT, GT1 (1.5 < 1.8);
    # GT0 keeps only p0 (no refill). p1, p4 and p5 are negatives.
    result = dynamic_k_matching(cost[None], ious[None], candidate[None],
                                torch.tensor([[True, True]]))
    assert result.fg_mask[0].tolist() == [True, False, True, True, False,
                                          False]
    assert result.gt_inds[0].tolist() == [0, 0, 1, 1, 0, 0]
    torch.testing.assert_close(result.ious[0],
                               torch.tensor([0.9, 0, 0.7, 0.9, 0, 0]))


def test_dynamic_k_matching_batch_padding_and_no_candidate():
    # image 0 as above with a padded third GT column; image 1 has one GT but
    # no candidate prior at all -> no positive (mmdet returns early).
    ious = torch.tensor([[0.9, 0.0, 0.5],
                         [0.8, 0.1, 0.5],
                         [0.6, 0.7, 0.5],
                         [0.0, 0.9, 0.5],
                         [0.1, 0.6, 0.5],
                         [1.0, 1.0, 0.5]])
    cost = torch.tensor([[1.0, 9.0, 0.0],
                         [2.0, 8.0, 0.0],
                         [1.8, 1.5, 0.0],
                         [9.0, 1.0, 0.0],
                         [5.0, 2.0, 0.0],
                         [0.1, 0.1, 0.0]])
    candidate = torch.tensor([[True] * 5 + [False], [False] * 6])
    gt_valid = torch.tensor([[True, True, False], [True, False, False]])
    result = dynamic_k_matching(
        torch.stack([cost, cost]), torch.stack([ious, ious]), candidate,
        gt_valid)
    assert result.gt_inds[0].tolist() == [0, 0, 1, 1, 0, 0]
    assert result.fg_mask[0].sum() == 3
    assert not result.fg_mask[1].any()


def test_candidate_masks_geometry():
    # stride-8 priors at x = 4, 12, ..., 44 (offset centres), y = 4.
    priors = torch.tensor([[4. + 8 * i, 4., 8., 8.] for i in range(6)])
    gts = torch.tensor([[[0., 0., 16., 8.],      # centre (8, 4)
                         [16., 0., 48., 8.]]])   # centre (32, 4)
    candidate, in_both = candidate_masks(priors, gts,
                                         torch.tensor([[True, True]]), 2.5)
    # GT0: in box x in (0, 16) -> p0, p1; centre square x in (-12, 28)
    #      -> p0, p1, p2 (x = 28 is on the border: excluded, strict)
    # GT1: in box x in (16, 48) -> p2..p5; square x in (12, 52) -> p2..p5
    assert in_both[0, :, 0].tolist() == [True, True, False, False, False,
                                         False]
    assert in_both[0, :, 1].tolist() == [False, False, True, True, True,
                                         True]
    assert candidate[0].all()
    # a padded GT contributes nothing
    candidate, in_both = candidate_masks(priors, gts,
                                         torch.tensor([[True, False]]), 2.5)
    assert candidate[0].tolist() == [True, True, True, False, False, False]
    assert not in_both[0, :, 1].any()


def test_class_cost_equals_bce_sum():
    torch.manual_seed(0)
    scores = torch.rand(2, 50, 7).clamp(1e-4, 1 - 1e-4)
    scores[0, 0, 3] = 0.0  # log clamps at -100 like F.binary_cross_entropy
    scores[1, 1, 2] = 1.0
    labels = torch.randint(0, 7, (2, 4))
    labels[0, 0] = 3
    labels[1, 0] = 5
    ref = F.binary_cross_entropy(
        scores[:, :, None, :].expand(-1, -1, 4, -1),
        F.one_hot(labels, 7).float()[:, None].expand(-1, 50, -1, -1),
        reduction='none').sum(-1)
    torch.testing.assert_close(class_cost(scores, labels), ref, rtol=1e-5,
                               atol=1e-4)


def test_pairwise_iou_hand_values():
    pred = torch.tensor([[[0., 0., 100., 100.], [0., 0., 50., 50.],
                          [200., 200., 300., 300.]]])
    gt = torch.tensor([[[0., 0., 100., 100.], [50., 50., 150., 150.]]])
    expected = torch.tensor([[[1.0, 2500 / 17500], [0.25, 0.0],
                              [0.0, 0.0]]])
    torch.testing.assert_close(pairwise_iou(pred, gt), expected)


def test_assign_end_to_end_hand_case():
    """One image, two GTs on a row of six stride-8 priors.

    Predicted boxes and uniform scores 0.5 over C=2 classes make every class
    cost 2 ln 2, so the order of costs is the order of IoUs and of the
    1e5 penalty. IoUs with GT0 = [0, 0, 16, 8] / GT1 = [16, 0, 48, 8]:
      p0 [0, 0, 16, 8]: 1 / 0        p1 [0, 0, 16, 8]: 1 / 0
      p2 [16, 0, 48, 8]: 0 / 1       p3 [16, 0, 32, 8]: 0 / 0.5
      p4 [8, 0, 24, 8]: 1/3 / 0.2    p5 far away: 0 / 0
    dynamic k: GT0 floor(1 + 1 + 1/3) = 2 -> p0, p1 (in box and centre);
               GT1 floor(1 + 0.5 + 0.2) = 1 -> p2.
    """
    priors = torch.tensor([[4. + 8 * i, 4., 8., 8.] for i in range(6)])
    bboxes = torch.tensor([[0., 0., 16., 8.], [0., 0., 16., 8.],
                           [16., 0., 48., 8.], [16., 0., 32., 8.],
                           [8., 0., 24., 8.], [100., 100., 108., 108.]])
    pred = InstanceData(priors=priors, bboxes=bboxes,
                        scores=torch.full((6, 2), 0.5))
    gt = InstanceData(
        bboxes=torch.tensor([[0., 0., 16., 8.], [16., 0., 48., 8.]]),
        labels=torch.tensor([0, 1]))
    result = SimOTAAssigner(center_radius=2.5).assign(pred, gt)
    assert result.gt_inds.tolist() == [1, 1, 2, 0, 0, 0]
    assert result.labels.tolist() == [0, 0, 1, -1, -1, -1]
    torch.testing.assert_close(result.max_overlaps[:3],
                               torch.tensor([1., 1., 1.]))
    assert (result.max_overlaps[3:] == -1e5).all()


def test_assign_no_gt():
    pred = InstanceData(priors=torch.tensor([[4., 4., 8., 8.]]),
                        bboxes=torch.tensor([[0., 0., 8., 8.]]),
                        scores=torch.full((1, 3), 0.5))
    gt = InstanceData(bboxes=torch.zeros((0, 4)),
                      labels=torch.zeros((0, ), dtype=torch.long))
    result = SimOTAAssigner().assign(pred, gt)
    assert result.gt_inds.tolist() == [0]
    assert result.labels.tolist() == [-1]
    assert result.num_gts == 0


def test_chunked_equals_unchunked():
    torch.manual_seed(1)
    num_imgs, num_priors, num_gts = 3, 200, 5
    priors = torch.cat([torch.rand(num_priors, 2) * 160,
                        torch.full((num_priors, 2), 8.)], 1)
    xy = torch.rand(num_imgs, num_priors, 2) * 150
    pred = torch.cat([xy, xy + 5 + torch.rand(num_imgs, num_priors, 2) * 40],
                     -1)
    gxy = torch.rand(num_imgs, num_gts, 2) * 120
    gts = torch.cat([gxy, gxy + 8 + torch.rand(num_imgs, num_gts, 2) * 40],
                    -1)
    scores = torch.rand(num_imgs, num_priors, 4)
    labels = torch.randint(0, 4, (num_imgs, num_gts))
    valid = torch.ones(num_imgs, num_gts, dtype=torch.bool)
    full = SimOTAAssigner().batch_assign(priors, pred, scores, gts, labels,
                                         valid)
    chunked = SimOTAAssigner(max_pairs=num_priors * num_gts).batch_assign(
        priors, pred, scores, gts, labels, valid)
    for a, b in zip(full, chunked):
        assert torch.equal(a, b)
    assert full.fg_mask.any()


@pytest.mark.parametrize('kwargs', [
    dict(center_radius=0),
    dict(candidate_topk=0),
    dict(iou_calculator=dict(type='BboxOverlaps3D')),
])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        SimOTAAssigner(**kwargs)


def _random_batch(num_imgs=3, num_priors=300, num_gts=12, num_classes=5,
                  seed=2):
    """Priors on a 3-level grid of a 160 px image and crowded GTs, so that
    several GTs select the same priors (conflicts)."""
    gen = torch.Generator().manual_seed(seed)
    levels = []
    for stride in (8, 16, 32):
        n = 160 // stride
        ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n),
                                indexing='ij')
        ctr = torch.stack([xs.flatten(), ys.flatten()], 1).float()
        levels.append(torch.cat([ctr * stride + stride / 2,
                                 torch.full_like(ctr, stride)], 1))
    priors = torch.cat(levels)
    num_priors = len(priors)
    xy = priors[None, :, :2] + torch.randn(num_imgs, num_priors, 2,
                                           generator=gen) * 4
    wh = torch.rand(num_imgs, num_priors, 2, generator=gen) * 40 + 4
    pred = torch.cat([xy - wh / 2, xy + wh / 2], -1)
    gxy = torch.rand(num_imgs, num_gts, 2, generator=gen) * 100 + 10
    gwh = torch.rand(num_imgs, num_gts, 2, generator=gen) * 40 + 4
    gts = torch.cat([gxy, gxy + gwh], -1)
    cls = torch.randn(num_imgs, num_priors, num_classes, generator=gen) * 2
    obj = torch.randn(num_imgs, num_priors, generator=gen) * 2
    labels = torch.randint(0, num_classes, (num_imgs, num_gts),
                           generator=gen)
    valid = torch.ones(num_imgs, num_gts, dtype=torch.bool)
    valid[1, num_gts // 2:] = False  # padding
    return priors, pred, cls, obj, gts, labels, valid


def test_batch_assign_logits_equals_batch_assign_on_scores():
    priors, pred, cls, obj, gts, labels, valid = _random_batch()
    # the head's layout: a transposed view of (B, C, P) maps
    cls_view = cls.transpose(1, 2).contiguous().transpose(1, 2)
    scores = (cls.sigmoid() * obj.sigmoid()[..., None]).sqrt()
    assigner = SimOTAAssigner()
    expected = assigner.batch_assign(priors, pred, scores, gts, labels, valid)
    actual = assigner.batch_assign_logits(priors, pred, cls_view, obj, gts,
                                          labels, valid)
    for a, b in zip(expected, actual):
        assert torch.equal(a, b)
    assert expected.fg_mask.any()
    assert not expected.gt_inds[1][expected.fg_mask[1]].ge(6).any()


@pytest.mark.parametrize('max_pairs', [1, 300, 4000])
def test_gt_blocks_equal_whole_image(max_pairs):
    """Blocks of GTs inside an image (max_pairs below one image's pairs)
    give the unchunked result, conflicts included."""
    priors, pred, cls, obj, gts, labels, valid = _random_batch(num_gts=40)
    whole = SimOTAAssigner(max_pairs=2**30).batch_assign_logits(
        priors, pred, cls, obj, gts, labels, valid)
    chunked = SimOTAAssigner(max_pairs=max_pairs).batch_assign_logits(
        priors, pred, cls, obj, gts, labels, valid)
    for a, b in zip(whole, chunked):
        assert torch.equal(a, b)
    # the case has priors selected by several GTs (step 4 is exercised)
    candidate, in_both = candidate_masks(priors, gts, valid, 2.5)
    ious = pairwise_iou(pred, gts, candidate=candidate)
    scores = (cls.sigmoid() * obj.sigmoid()[..., None]).sqrt()
    cost = matching_cost(class_cost(scores, labels), ious, in_both, candidate,
                         valid)
    selection = select_dynamic_k(cost, ious)
    taken = selection.priors[selection.taken]  # priors of image 0, 1, 2
    img = torch.arange(3)[:, None, None].expand_as(selection.priors)[
        selection.taken]
    claims = torch.zeros(3, len(priors), dtype=torch.long).index_put_(
        (img, taken), torch.tensor(1), accumulate=True)
    assert claims.max() > 1


def test_prior_class_sum_candidates_only_and_blocks():
    torch.manual_seed(3)
    scores = torch.rand(2, 50, 7)
    candidate = torch.rand(2, 50) < 0.5
    dense = prior_class_sum(ClassProbs(scores))
    expected = -torch.log1p(-scores).clamp(min=-100).sum(-1)
    torch.testing.assert_close(dense, expected)
    sparse = prior_class_sum(ClassProbs(scores), candidate)
    assert torch.equal(sparse[candidate], dense[candidate])
    assert (sparse[~candidate] == 0).all()
    # blocks of 2 rows give the same values
    assert torch.equal(prior_class_sum(ClassProbs(scores), block=14), dense)


def test_class_probs_needs_one_source():
    with pytest.raises(ValueError):
        ClassProbs()
    with pytest.raises(ValueError):
        ClassProbs(torch.rand(1, 2, 3), cls_logits=torch.rand(1, 2, 3),
                   obj_logits=torch.rand(1, 2))
    with pytest.raises(ValueError):
        ClassProbs(cls_logits=torch.rand(1, 2, 3))


def test_matching_cost_hand_values():
    # 1 image, 3 priors x 2 GTs (GT1 padded); prior 2 is not a candidate.
    cls_cost = torch.tensor([[[1.0, 7.0], [2.0, 7.0], [0.5, 7.0]]])
    ious = torch.tensor([[[0.5, 0.9], [1.0, 0.9], [0.25, 0.9]]])
    in_both = torch.tensor([[[True, True], [False, True], [True, True]]])
    candidate = torch.tensor([[True, True, False]])
    gt_valid = torch.tensor([[True, False]])
    cost = matching_cost(cls_cost, ious, in_both, candidate, gt_valid)
    # p0: 1 + 3 * -ln(0.5)  = 1 + 2.0794 = 3.0794 (in both)
    # p1: 2 + 3 * -ln(1)    = 2 + 0      + 1e5 (not in both)
    # p2: not a candidate -> +inf; GT1 is padding -> +inf everywhere
    expected = torch.tensor([[[1 - 3 * math.log(0.5 + EPS), math.inf],
                              [2 - 3 * math.log(1 + EPS) + INF, math.inf],
                              [math.inf, math.inf]]])
    torch.testing.assert_close(cost, expected)
    # the weights: 2 * cls + 0.5 * -ln(IoU)
    cost = matching_cost(cls_cost, ious, in_both, candidate, gt_valid,
                         iou_weight=0.5, cls_weight=2.0)
    torch.testing.assert_close(cost[0, 0, 0],
                               torch.tensor(2 - 0.5 * math.log(0.5 + EPS)))
    # the inputs are not modified
    assert cls_cost[0, 2, 0] == 0.5 and ious[0, 2, 1] == 0.9


def test_class_cost_with_a_given_prior_sum():
    # p = 0.5 for both classes of 2 priors: every BCE term is ln 2, so the
    # cost of any label is 2 ln 2 = -ln(0.5) - ln(0.5); with a given
    # per-prior sum S, the cost is S + ln(1 - p_g) - ln(p_g) = S.
    probs = torch.full((1, 2, 2), 0.5)
    labels = torch.tensor([[0, 1, 1]])
    torch.testing.assert_close(class_cost(probs, labels),
                               torch.full((1, 2, 3), 2 * math.log(2)))
    given = torch.tensor([[10.0, 20.0]])
    torch.testing.assert_close(
        class_cost(ClassProbs(probs), labels, given),
        torch.tensor([[[10.0] * 3, [20.0] * 3]]))


def test_dynamic_k_hand_values():
    # 4 priors x 3 GTs
    ious = torch.tensor([[[0.6, 0.1, 0.0],
                          [0.7, 0.2, 0.0],
                          [0.8, 0.3, 0.0],
                          [0.4, 0.3, 0.9]]])
    # K = 10 > P: all priors. GT0: 0.6 + 0.7 + 0.8 + 0.4 = 2.5 -> 2;
    # GT1: 0.9 -> max(1, 0) = 1; GT2: 0.9 -> 1
    assert dynamic_k(ious).tolist() == [[2, 1, 1]]
    # K = 2: GT0: 0.8 + 0.7 = 1.5 -> 1
    assert dynamic_k(ious, 2).tolist() == [[1, 1, 1]]


def test_pairwise_iou_of_candidates_only():
    # prior 1 is not a candidate: its IoU counts as 0 (for the dynamic k)
    pred = torch.tensor([[[0., 0., 10., 10.], [0., 0., 10., 10.]]])
    gt = torch.tensor([[[0., 0., 10., 5.]]])
    ious = pairwise_iou(pred, gt, candidate=torch.tensor([[True, False]]))
    torch.testing.assert_close(ious, torch.tensor([[[0.5], [0.0]]]))


def test_select_dynamic_k_takes_the_k_cheapest_finite():
    inf = math.inf
    cost = torch.tensor([[[3.0, inf], [1.0, inf], [2.0, inf]]])
    ious = torch.tensor([[[0.9, 0.5], [0.8, 0.5], [0.7, 0.5]]])
    # GT0: k = floor(2.4) = 2 -> p1 (1.0), p2 (2.0); GT1: all costs +inf
    # (padded or without candidate) -> nothing although k = 1
    sel = select_dynamic_k(cost, ious)
    assert sel.priors[0, :, 0].tolist() == [1, 2, 0]
    assert sel.taken[0].tolist() == [[True, False], [True, False],
                                     [False, False]]
    torch.testing.assert_close(sel.ious[0, :2, 0], torch.tensor([0.8, 0.7]))


def test_resolve_conflicts_and_cheapest_over_blocks():
    # 1 image, 4 priors, GTs 0-2. Selections (K = 2 slots per GT):
    # GT0 takes p0, p1; GT1 takes p1; GT2 takes p1, p3.
    selection = Selection(
        priors=torch.tensor([[[0, 1, 1], [1, 0, 3]]]),
        taken=torch.tensor([[[True, True, True], [True, False, True]]]),
        ious=torch.tensor([[[0.5, 0.6, 0.7], [0.4, 0.0, 0.8]]]))
    # the cheapest GT of each prior, from two blocks of GTs: {0, 1}, {2}.
    # p1: block {0, 1} costs 2.0 (GT1), block {2} costs 2.0 too: a tie
    # keeps the first index, GT1.
    first = cheapest_gt(torch.tensor([[[1.0, 9.0], [3.0, 2.0], [5.0, 6.0],
                                       [9.0, 9.0]]]),
                        torch.tensor([[[0.5, 0.1], [0.4, 0.6], [0.0, 0.0],
                                       [0.0, 0.0]]]))
    second = cheapest_gt(torch.tensor([[[8.0], [2.0], [1.0], [0.5]]]),
                         torch.tensor([[[0.0], [0.7], [0.2], [0.8]]]),
                         gt_offset=2)
    cheapest = first.merge(second)
    assert isinstance(cheapest, Cheapest)
    assert cheapest.gt.tolist() == [[0, 1, 2, 2]]
    result = resolve_conflicts(selection, cheapest)
    # p0: GT0 only; p1: claimed 3 times -> its cheapest, GT1 (IoU 0.6);
    # p2: nobody; p3: GT2 only (IoU 0.8)
    assert result.fg_mask.tolist() == [[True, True, False, True]]
    assert result.gt_inds.tolist() == [[0, 1, 0, 2]]
    torch.testing.assert_close(result.ious,
                               torch.tensor([[0.5, 0.6, 0.0, 0.8]]))
