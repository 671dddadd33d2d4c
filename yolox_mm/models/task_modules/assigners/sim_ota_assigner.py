"""``SimOTAAssigner``: the steps of :mod:`.sim_ota` (YOLOX paper section
2.1, SimOTA V1) run over a batch in chunks, behind mmdet's assigner API.

Notation as in :mod:`.sim_ota`. The assigner only chunks the work and
calls the step functions of :mod:`.sim_ota` on each chunk; what is tested
there on hand-made matrices is what runs here.

Chunks (memory): the ``[B, P, G]`` tensors are built for at most
``max_pairs`` (prior, GT) pairs at a time: several images a chunk or, for
an image with more pairs, blocks of its GTs. The candidates of an image
depend on all its GTs (a first pass over the blocks), the top-k of a GT is
over all priors of its image (so it does not depend on the blocks), and the
conflicts of step 4 are resolved once, with the per-block selections
concatenated and the cheapest GT of each prior merged over the blocks.
About 25 bytes a pair of a chunk at the peak. The class cost uses the
one-hot identity (:func:`.sim_ota.class_cost`), and
:meth:`SimOTAAssigner.batch_assign_logits` takes the logits, so that
nothing of size ``B * P * C`` is allocated: memory does not grow with
``C``. On CPU the per-prior class sum is computed for candidate priors only
(the others are never matched; this counts them on the host); on other
devices for every prior, without host synchronisation.
"""
from functools import reduce
from operator import or_
from typing import Iterable, List, Optional, Tuple

import torch
from mmdet.models.task_modules.assigners import AssignResult, BaseAssigner
from mmengine.structures import InstanceData
from torch import Tensor

from yolox_mm.registry import TASK_UTILS
from .sim_ota import (INF, BatchAssignResult, Cheapest, ClassProbs,
                      Selection, candidate_masks, cheapest_gt, class_cost,
                      matching_cost, pairwise_iou, prior_class_sum,
                      resolve_conflicts, select_dynamic_k)

__all__ = ['SimOTAAssigner']


@TASK_UTILS.register_module()
class SimOTAAssigner(BaseAssigner):
    """SimOTA assigner (YOLOX paper section 2.1; the rule of the published
    weights, see :mod:`.sim_ota`).

    Args:
        center_radius (float): Half side of the centre square around a GT
            centre, in strides of the prior's level. Defaults to 2.5.
        candidate_topk (int): Number of largest IoUs summed into the
            dynamic k. Defaults to 10.
        iou_weight (float): Weight of ``-log(IoU + 1e-7)``. Defaults to 3.0.
        cls_weight (float): Weight of the class BCE cost. Defaults to 1.0.
        max_pairs (int): The ``[B, P, G]`` tensors are built for at most
            this many (prior, GT) pairs at a time: several images, or, when
            one image has more pairs, blocks of at least one of its GTs.
            About 25 bytes a pair at the peak. Defaults to ``5 * 2**18``
            (1.3M pairs, 5 MiB per float32 tensor: one image of 8400 priors
            x 150 GTs, or three of 50 GTs, a chunk). Measured on CPU (1
            thread, B=8 at 640, C=80, shared machine; the assignment does
            not depend on it), the time against 2**22: 0.6x at G=50, 0.73x
            at G=150, 0.94x at G=200, 0.82x at G=1000; 2**21 was slower at
            G=50 and 2**20 at G=150 (blocks of GTs inside the image).
        iou_calculator (dict, optional): Accepted for compatibility with
            mmdet configs; only ``BboxOverlaps2D`` (the default) is
            supported.

    Raises:
        ValueError: for a non-positive ``center_radius``, ``candidate_topk``
            or ``max_pairs``, or another ``iou_calculator``.
    """

    def __init__(self,
                 center_radius: float = 2.5,
                 candidate_topk: int = 10,
                 iou_weight: float = 3.0,
                 cls_weight: float = 1.0,
                 max_pairs: int = 5 * 2**18,
                 iou_calculator: Optional[dict] = None) -> None:
        if center_radius <= 0 or candidate_topk <= 0 or max_pairs <= 0:
            raise ValueError(
                'center_radius, candidate_topk and max_pairs must be '
                f'positive, got {center_radius}, {candidate_topk}, '
                f'{max_pairs}')
        if iou_calculator is not None and \
                iou_calculator.get('type') != 'BboxOverlaps2D':
            raise ValueError('SimOTAAssigner computes IoU as '
                             "BboxOverlaps2D; got iou_calculator="
                             f'{iou_calculator!r}')
        self.center_radius = center_radius
        self.candidate_topk = candidate_topk
        self.iou_weight = iou_weight
        self.cls_weight = cls_weight
        self.max_pairs = max_pairs

    @torch.no_grad()
    def batch_assign(self, priors: Tensor, pred_bboxes: Tensor,
                     pred_scores: Tensor, gt_bboxes: Tensor,
                     gt_labels: Tensor,
                     gt_valid: Tensor) -> BatchAssignResult:
        """Assign the GTs of a batch of images.

        Args:
            priors (Tensor): ``[P, 4]`` ``(cx, cy, stride_w, stride_h)``
                with the 0.5-stride offset, shared by all images.
            pred_bboxes (Tensor): ``[B, P, 4]`` decoded boxes, xyxy.
            pred_scores (Tensor): ``[B, P, C]`` class probabilities, in
                YOLOX ``sqrt(sigmoid(cls) * sigmoid(obj))``; see
                :meth:`batch_assign_logits` to pass the logits instead.
            gt_bboxes (Tensor): ``[B, G, 4]`` xyxy, padded.
            gt_labels (Tensor): ``[B, G]`` long, padded.
            gt_valid (Tensor): ``[B, G]`` bool, False for padding.

        Returns:
            BatchAssignResult: ``[B, P]`` positives, GT indices and IoUs, on
            the device of the inputs.
        """
        return self._batch_assign(priors, pred_bboxes,
                                  ClassProbs(pred_scores), gt_bboxes,
                                  gt_labels, gt_valid)

    @torch.no_grad()
    def batch_assign_logits(self, priors: Tensor, pred_bboxes: Tensor,
                            cls_logits: Tensor, obj_logits: Tensor,
                            gt_bboxes: Tensor, gt_labels: Tensor,
                            gt_valid: Tensor) -> BatchAssignResult:
        """:meth:`batch_assign` from the raw head outputs: the class
        probabilities ``sqrt(sigmoid(cls) * sigmoid(obj))`` are computed
        only where they are read (by row blocks and at the GT labels), so
        no ``[B, P, C]`` tensor is allocated. Same result as
        :meth:`batch_assign` on those probabilities.

        Args:
            cls_logits (Tensor): ``[B, P, C]`` class logits, any strides.
            obj_logits (Tensor): ``[B, P]`` objectness logits.
            Others: as :meth:`batch_assign`.

        Returns:
            BatchAssignResult: ``[B, P]`` positives, GT indices and IoUs.
        """
        return self._batch_assign(
            priors, pred_bboxes,
            ClassProbs(cls_logits=cls_logits, obj_logits=obj_logits),
            gt_bboxes, gt_labels, gt_valid)

    def _batch_assign(self, priors: Tensor, pred_bboxes: Tensor,
                      probs: ClassProbs, gt_bboxes: Tensor, gt_labels: Tensor,
                      gt_valid: Tensor) -> BatchAssignResult:
        """Split the batch into chunks of at most ``max_pairs`` pairs."""
        num_imgs, num_priors = pred_bboxes.shape[:2]
        num_gts = gt_bboxes.shape[1]
        if num_gts == 0:
            zeros = pred_bboxes.new_zeros((num_imgs, num_priors))
            return BatchAssignResult(zeros.bool(), zeros.long(), zeros)
        pairs = num_priors * num_gts
        if pairs <= self.max_pairs:
            img_step, gt_step = self.max_pairs // pairs, num_gts
        else:
            img_step, gt_step = 1, max(1, self.max_pairs // num_priors)
        with torch.autocast(pred_bboxes.device.type, enabled=False):
            priors = priors.float()
            pred_bboxes = pred_bboxes.float()
            gt_bboxes = gt_bboxes.float()
            chunks = [
                self._assign_images(priors, pred_bboxes[i:i + img_step],
                                    probs.images(i, i + img_step),
                                    gt_bboxes[i:i + img_step],
                                    gt_labels[i:i + img_step],
                                    gt_valid[i:i + img_step], gt_step)
                for i in range(0, num_imgs, img_step)
            ]
        if len(chunks) == 1:
            return chunks[0]
        return BatchAssignResult(*(torch.cat(parts) for parts in zip(*chunks)))

    def _assign_images(self, priors: Tensor, pred_bboxes: Tensor,
                       probs: ClassProbs, gt_bboxes: Tensor,
                       gt_labels: Tensor, gt_valid: Tensor,
                       gt_step: int) -> BatchAssignResult:
        """Steps 1-4 for a chunk of images, their GTs in blocks of
        ``gt_step``."""
        blocks = [slice(g, g + gt_step)
                  for g in range(0, gt_bboxes.shape[1], gt_step)]
        candidate, in_both_of_blocks = self._centre_prior(
            priors, gt_bboxes, gt_valid, blocks)
        # the other priors are never matched: on CPU, skip their class sum
        prior_sum = prior_class_sum(
            probs, candidate if pred_bboxes.is_cpu else None)
        selections: List[Selection] = []
        cheapest: Optional[Cheapest] = None
        for block, in_both in zip(blocks, in_both_of_blocks):
            selection, block_cheapest = self._select_block(
                pred_bboxes, probs, prior_sum, candidate, in_both,
                gt_bboxes[:, block], gt_labels[:, block], gt_valid[:, block],
                block.start)
            selections.append(selection)
            cheapest = block_cheapest if cheapest is None else \
                cheapest.merge(block_cheapest)
        selection = Selection(*(torch.cat(parts, dim=2)
                                for parts in zip(*selections)))
        return resolve_conflicts(selection, cheapest)

    def _centre_prior(self, priors: Tensor, gt_bboxes: Tensor,
                      gt_valid: Tensor, blocks: List[slice]
                      ) -> Tuple[Tensor, Iterable[Tensor]]:
        """Step 1: ``candidate [B, P]`` over all GTs, and the ``in_both``
        mask of each block of GTs (computed in a second pass when there are
        several blocks, so that only one block's mask is alive)."""
        def masks(block: slice) -> Tuple[Tensor, Tensor]:
            return candidate_masks(priors, gt_bboxes[:, block],
                                   gt_valid[:, block], self.center_radius)

        if len(blocks) == 1:
            candidate, in_both = masks(blocks[0])
            return candidate, [in_both]
        candidate = reduce(or_, (masks(block)[0] for block in blocks))
        return candidate, (masks(block)[1] for block in blocks)

    def _select_block(self, pred_bboxes: Tensor, probs: ClassProbs,
                      prior_sum: Tensor, candidate: Tensor, in_both: Tensor,
                      gt_bboxes: Tensor, gt_labels: Tensor,
                      gt_valid: Tensor,
                      gt_offset: int) -> Tuple[Selection, Cheapest]:
        """Steps 2, 3 and the cheapest GT of each prior (step 4a) for the
        block of GTs that starts at index ``gt_offset`` of the images'."""
        ious = pairwise_iou(pred_bboxes, gt_bboxes, candidate=candidate)
        cost = matching_cost(class_cost(probs, gt_labels, prior_sum), ious,
                             in_both, candidate, gt_valid, self.iou_weight,
                             self.cls_weight)
        return (select_dynamic_k(cost, ious, self.candidate_topk),
                cheapest_gt(cost, ious, gt_offset))

    def assign(self,
               pred_instances: InstanceData,
               gt_instances: InstanceData,
               gt_instances_ignore: Optional[InstanceData] = None,
               **kwargs) -> AssignResult:
        """Assign one image (mmdet's ``BaseAssigner`` interface).

        Args:
            pred_instances (InstanceData): ``priors [P, 4]`` (offset
                centres and strides), ``bboxes [P, 4]`` decoded xyxy,
                ``scores [P, C]`` ``sqrt(sigmoid(cls) * sigmoid(obj))``.
            gt_instances (InstanceData): ``bboxes [G, 4]`` xyxy and
                ``labels [G]``.
            gt_instances_ignore: Unused (as in every YOLOX reference).

        Returns:
            AssignResult: ``gt_inds`` (1-based GT index of positives, 0
            negatives), ``max_overlaps`` (IoU of positives, -1e5 elsewhere,
            as mmdet), ``labels`` (-1 for negatives).
        """
        gt_bboxes = gt_instances.bboxes
        gt_labels = gt_instances.labels.long()
        num_gts = gt_bboxes.shape[0]
        num_priors = pred_instances.bboxes.shape[0]
        result = self.batch_assign(
            pred_instances.priors, pred_instances.bboxes[None],
            pred_instances.scores[None], gt_bboxes[None], gt_labels[None],
            gt_labels.new_ones((1, num_gts), dtype=torch.bool))
        fg, inds, ious = (t[0] for t in result)
        assigned_gt_inds = torch.where(fg, inds + 1, 0)
        max_overlaps = torch.where(fg, ious, ious.new_full((), -INF))
        if num_gts:
            labels = torch.where(fg, gt_labels[inds], -1)
        else:
            labels = gt_labels.new_full((num_priors, ), -1)
            max_overlaps = max_overlaps.new_zeros((num_priors, ))
        return AssignResult(num_gts, assigned_gt_inds, max_overlaps,
                            labels=labels)
