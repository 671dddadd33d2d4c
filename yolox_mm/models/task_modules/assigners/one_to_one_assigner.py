"""One-to-one label assignment with SimOTA's cost, for the end-to-end YOLOX
(paper section 2.1 "End-to-end YOLO": "one-to-one label assignment",
following PSS, Zhou et al. 2021, arXiv 2101.11782).

Each valid GT gets exactly one prior, chosen with **the same cost as
SimOTA** (:mod:`.sim_ota_assigner`: class BCE of ``sqrt(sigmoid(cls) *
sigmoid(obj))`` + ``iou_weight * -log(IoU + 1e-7)`` + ``1e5`` outside
"box and centre square", candidates = priors in any box or centre square),
so the one-to-one prior of a GT is its cheapest one-to-many prior when
nothing competes for it (the "consistent matching metric" of YOLOv10,
arXiv 2405.14458 section 3.1, in SimOTA's terms). The cost terms are
SimOTA's own public functions (:func:`candidate_masks`,
:func:`label_class_cost`, :func:`prior_class_sum`, :func:`pairwise_iou`);
nothing of the selection is shared (it is top-1, not dynamic k).

Matching, all images of the batch at once, in rounds: every GT still
without a prior proposes its cheapest free candidate prior; a prior proposed
by several GTs goes to the GT of least cost (the first on ties) and the
others propose again in the next round, among the priors still free. So a
prior shared as best by two GTs goes to the cheaper one, the other takes
its next best, and every valid GT with a free candidate ends with exactly
one prior and no prior with two GTs. Padded GTs and images without GT get
nothing. At most ``G`` rounds (usually 1-3).
"""
from typing import Optional

import torch
from torch import Tensor

from yolox_mm.registry import TASK_UTILS
from .sim_ota import (BatchAssignResult, ClassProbs, candidate_masks,
                      class_cost, matching_cost, pairwise_iou)


def simota_cost(priors: Tensor, pred_bboxes: Tensor, probs: ClassProbs,
                gt_bboxes: Tensor, gt_labels: Tensor, gt_valid: Tensor,
                center_radius: float = 2.5, iou_weight: float = 3.0,
                cls_weight: float = 1.0):
    """SimOTA's matching cost of every (prior, GT) pair.

    Args:
        priors (Tensor): ``[P, 4]`` ``(cx, cy, stride_w, stride_h)`` with
            the 0.5-stride offset.
        pred_bboxes (Tensor): ``[B, P, 4]`` decoded xyxy boxes (pixels).
        probs (ClassProbs): the ``[B, P, C]`` scores ``sqrt(sigmoid(cls) *
            sigmoid(obj))``.
        gt_bboxes (Tensor): ``[B, G, 4]`` xyxy, padded; ``gt_labels [B,
            G]``; ``gt_valid [B, G]`` bool.
        center_radius, iou_weight, cls_weight (float): As
            :class:`SimOTAAssigner`.

    Returns:
        tuple[Tensor, Tensor]: ``cost [B, P, G]`` float32, ``+inf`` for
        priors that are not candidates and for padded GTs; ``ious [B, P,
        G]``.
    """
    candidate, in_both = candidate_masks(priors, gt_bboxes, gt_valid,
                                         center_radius)
    ious = pairwise_iou(pred_bboxes, gt_bboxes)
    cost = matching_cost(class_cost(probs, gt_labels), ious, in_both,
                         candidate, gt_valid, iou_weight, cls_weight)
    return cost, ious


def match_one_to_one(cost: Tensor) -> Tensor:
    """Rounds of "each free GT takes its cheapest free prior; conflicts go
    to the least cost" (module docstring).

    Args:
        cost (Tensor): ``[B, P, G]``; ``+inf`` marks pairs that may not be
            matched.

    Returns:
        Tensor: ``[B, G]`` long, the prior of each GT, ``-1`` for GTs
        without one (padded, or no free finite-cost prior).
    """
    num_imgs, num_priors, num_gts = cost.shape
    cost = cost.clone()
    prior_of_gt = cost.new_full((num_imgs, num_gts), -1, dtype=torch.long)
    gt_index = torch.arange(num_gts, device=cost.device).expand(num_imgs, -1)
    for _ in range(num_gts):
        best_cost, best_prior = cost.min(dim=1)  # [B, G]
        proposing = (prior_of_gt < 0) & best_cost.isfinite()
        if not proposing.any():
            break
        # per prior: least proposed cost, then the first GT with it
        inf = torch.full((num_imgs, num_priors), float('inf'),
                         device=cost.device)
        proposed = torch.where(proposing, best_cost, inf.new_tensor(
            float('inf')))
        least = inf.scatter_reduce(1, best_prior, proposed, 'amin')
        ties = proposing & (proposed == least.gather(1, best_prior))
        first = torch.full((num_imgs, num_priors), num_gts,
                           device=cost.device, dtype=torch.long)
        first = first.scatter_reduce(
            1, best_prior, torch.where(ties, gt_index, num_gts), 'amin')
        wins = ties & (first.gather(1, best_prior) == gt_index)
        prior_of_gt = torch.where(wins, best_prior, prior_of_gt)
        # the taken priors are no longer free; winners propose no more
        img_idx, gt_idx = wins.nonzero(as_tuple=True)
        cost[img_idx, best_prior[img_idx, gt_idx], :] = float('inf')
        cost[img_idx, :, gt_idx] = float('inf')
    return prior_of_gt


@TASK_UTILS.register_module()
class OneToOneAssigner:
    """One prior per GT with SimOTA's cost (module docstring).

    Args:
        center_radius (float): Centre square half side, in strides.
            Defaults to 2.5.
        iou_weight (float): Weight of ``-log(IoU + 1e-7)``. Defaults to 3.
        cls_weight (float): Weight of the class BCE cost. Defaults to 1.

    Memory: ``[B, P, G]`` cost and IoU tensors for the whole batch (no
    chunking: 8 x 8400 priors x 50 GTs is 13 MiB each).

    Raises:
        ValueError: for a non-positive ``center_radius``.
    """

    def __init__(self, center_radius: float = 2.5, iou_weight: float = 3.0,
                 cls_weight: float = 1.0) -> None:
        if center_radius <= 0:
            raise ValueError('center_radius must be positive, got '
                             f'{center_radius}')
        self.center_radius = center_radius
        self.iou_weight = iou_weight
        self.cls_weight = cls_weight

    @torch.no_grad()
    def batch_assign_logits(self, priors: Tensor, pred_bboxes: Tensor,
                            cls_logits: Tensor, obj_logits: Tensor,
                            gt_bboxes: Tensor, gt_labels: Tensor,
                            gt_valid: Tensor,
                            cost: Optional[Tensor] = None
                            ) -> BatchAssignResult:
        """Assign a batch, from the raw (detached) head outputs.

        Args:
            priors (Tensor): ``[P, 4]`` ``(cx, cy, stride_w, stride_h)``,
                with the 0.5-stride offset (as SimOTA).
            pred_bboxes (Tensor): ``[B, P, 4]`` decoded xyxy.
            cls_logits (Tensor): ``[B, P, C]``; obj_logits ``[B, P]``.
            gt_bboxes, gt_labels, gt_valid (Tensor): padded GTs ``[B, G,
                4]`` xyxy, ``[B, G]`` long, ``[B, G]`` bool.
            cost (Tensor, optional): ``[B, P, G]`` to use instead of
                SimOTA's (tests); ``+inf`` marks forbidden pairs, padded
                GTs are masked anyway.

        Returns:
            BatchAssignResult: ``fg_mask [B, P]`` (exactly one prior per
            matched GT), ``gt_inds [B, P]``, ``ious [B, P]``.
        """
        num_imgs, num_priors = pred_bboxes.shape[:2]
        zeros = pred_bboxes.new_zeros((num_imgs, num_priors))
        if gt_bboxes.shape[1] == 0:
            return BatchAssignResult(zeros.bool(), zeros.long(), zeros)
        with torch.autocast(pred_bboxes.device.type, enabled=False):
            ious = None
            if cost is None:
                cost, ious = simota_cost(
                    priors.float(), pred_bboxes.float(),
                    ClassProbs(cls_logits=cls_logits,
                               obj_logits=obj_logits),
                    gt_bboxes.float(), gt_labels, gt_valid,
                    self.center_radius, self.iou_weight, self.cls_weight)
            else:  # padded GTs take nothing, whatever the given cost
                cost = cost.masked_fill(~gt_valid[:, None, :],
                                        float('inf'))
            prior_of_gt = match_one_to_one(cost)
        img_idx, gt_idx = (prior_of_gt >= 0).nonzero(as_tuple=True)
        prior_idx = prior_of_gt[img_idx, gt_idx]
        fg_mask = zeros.bool()
        fg_mask[img_idx, prior_idx] = True
        gt_inds = zeros.long()
        gt_inds[img_idx, prior_idx] = gt_idx
        out_ious = zeros.clone()
        if ious is not None:
            out_ious[img_idx, prior_idx] = ious[img_idx, prior_idx, gt_idx]
        return BatchAssignResult(fg_mask, gt_inds, out_ious)
