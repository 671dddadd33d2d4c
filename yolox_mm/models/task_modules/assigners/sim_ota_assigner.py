"""SimOTA label assignment (YOLOX paper section 2.1 "SimOTA"), batched.

Notation: ``B`` images, ``P`` priors (all levels, one point per location),
``G`` ground-truth boxes per image (padded to the largest image of the
batch; ``gt_valid`` marks real ones), ``C`` classes. Boxes are ``xyxy`` in
pixels of the padded network input. Priors are ``(cx, cy, stride_w,
stride_h)`` with the centre at ``grid * stride + 0.5 * stride`` (the
geometry the published weights were trained with; decoding uses the grid
point without the 0.5 offset).

The rule is the one of the published weights and of mmdet 3.3.0's
``SimOTAAssigner`` (Megvii ``yolo_head.py`` up to tag 0.3.0):

1. candidates: priors whose centre is strictly inside a GT box **or**
   strictly inside the square of half-side ``center_radius`` strides around
   a GT centre (for any GT of the image);
2. cost of (prior, GT) = ``cls_weight * BCE(sqrt(sigmoid(cls) *
   sigmoid(obj)), one_hot(gt)) summed over classes + iou_weight *
   -log(IoU + 1e-7) + 1e5 * (not (in box and in centre square))``;
3. dynamic k of a GT = ``max(1, int(sum of its candidate_topk largest IoUs
   with candidate priors)))``; the GT takes its k cheapest priors;
4. a prior taken by several GTs goes to the GT of least cost (over all GTs
   of the image).

Megvii's ``main`` branch since 2023-01 uses another rule (centre within
1.5 strides only); no released weights use it, so neither do we.

What differs from the references is only how it is computed: the whole
batch at once, no per-image or per-GT Python loop, no host
synchronisation, and the class cost without the ``[P, G, C]`` tensor. The
target of the class BCE is one-hot, so ``sum_c BCE(p_c, onehot_g) =
-sum_c log(1 - p_c) + log(1 - p_g) - log(p_g)``: a per-prior sum plus two
gathered terms, ``O(B * P * G)`` memory whatever ``C``. Memory is bounded
by processing images in chunks of at most ``max_pairs`` (prior, GT) pairs.
"""
from typing import NamedTuple, Optional

import torch
from mmdet.models.task_modules.assigners import AssignResult, BaseAssigner
from mmengine.structures import InstanceData
from torch import Tensor

from yolox_mm.registry import TASK_UTILS

#: Cost added to (prior, GT) pairs that are not both in the box and in the
#: centre square (``INF`` in mmdet, ``100000.0`` in Megvii).
INF = 100000.0
#: Added to the IoU inside the log of the IoU cost.
EPS = 1.0e-7
#: Clamp of the logarithms, as in ``torch.nn.functional.binary_cross_entropy``.
LOG_CLAMP = -100.0


class BatchAssignResult(NamedTuple):
    """SimOTA result for a batch.

    Attributes:
        fg_mask (Tensor): ``[B, P]`` bool, the positive priors.
        gt_inds (Tensor): ``[B, P]`` long, index of the matched GT in the
            (padded) GT list of the image; 0 where not ``fg_mask``.
        ious (Tensor): ``[B, P]`` float, IoU of the predicted box with its
            matched GT (the soft class target); 0 where not ``fg_mask``.
    """
    fg_mask: Tensor
    gt_inds: Tensor
    ious: Tensor


def candidate_masks(priors: Tensor, gt_bboxes: Tensor, gt_valid: Tensor,
                    center_radius: float) -> tuple:
    """Geometric prior of SimOTA.

    Args:
        priors (Tensor): ``[P, 4]`` ``(cx, cy, stride_w, stride_h)``, centres
            with the 0.5-stride offset.
        gt_bboxes (Tensor): ``[B, G, 4]`` xyxy.
        gt_valid (Tensor): ``[B, G]`` bool, False for padding.
        center_radius (float): Half side of the centre square, in strides.

    Returns:
        tuple[Tensor, Tensor]: ``candidate [B, P]`` (inside any GT box or
        any centre square) and ``in_both [B, P, G]`` (inside this GT's box
        and its centre square). The arithmetic (differences compared with
        0) is mmdet's, so boundary cases agree bit for bit.
    """
    x = priors[None, :, 0, None]  # [1, P, 1]
    y = priors[None, :, 1, None]
    r_x = center_radius * priors[None, :, 2, None]
    r_y = center_radius * priors[None, :, 3, None]
    x1, y1, x2, y2 = (gt_bboxes[:, None, :, i] for i in range(4))  # [B,1,G]
    valid = gt_valid[:, None, :]

    in_box = (x - x1 > 0) & (y - y1 > 0) & (x2 - x > 0) & (y2 - y > 0)
    in_box &= valid
    cx = (x1 + x2) / 2.0
    cy = (y1 + y2) / 2.0
    in_ctr = (x - (cx - r_x) > 0) & (y - (cy - r_y) > 0)
    in_ctr &= ((cx + r_x) - x > 0) & ((cy + r_y) - y > 0)
    in_ctr &= valid
    candidate = (in_box | in_ctr).any(dim=-1)
    return candidate, in_box & in_ctr


def pairwise_iou(pred_bboxes: Tensor, gt_bboxes: Tensor,
                 eps: float = 1e-6) -> Tensor:
    """IoU of every predicted box with every GT of the same image.

    Args:
        pred_bboxes (Tensor): ``[B, P, 4]`` xyxy.
        gt_bboxes (Tensor): ``[B, G, 4]`` xyxy.
        eps (float): Lower bound of the union (mmdet ``bbox_overlaps``).

    Returns:
        Tensor: ``[B, P, G]``, computed with mmdet's ``bbox_overlaps``
        arithmetic, in place where possible.
    """
    p = pred_bboxes[:, :, None, :]
    g = gt_bboxes[:, None, :, :]
    area_p = (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1])
    area_g = (g[..., 2] - g[..., 0]) * (g[..., 3] - g[..., 1])
    w = torch.minimum(p[..., 2], g[..., 2]) - torch.maximum(p[..., 0],
                                                            g[..., 0])
    h = torch.minimum(p[..., 3], g[..., 3]) - torch.maximum(p[..., 1],
                                                            g[..., 1])
    overlap = w.clamp_(min=0).mul_(h.clamp_(min=0))
    union = (area_p + area_g).sub_(overlap).clamp_(min=eps)
    return overlap.div_(union)


def class_cost(pred_scores: Tensor, gt_labels: Tensor) -> Tensor:
    """``sum_c BCE(pred_scores[b, p, c], one_hot(gt_labels[b, g])[c])``.

    Args:
        pred_scores (Tensor): ``[B, P, C]`` probabilities in [0, 1] (SimOTA
            uses ``sqrt(sigmoid(cls) * sigmoid(obj))``).
        gt_labels (Tensor): ``[B, G]`` long class indices.

    Returns:
        Tensor: ``[B, P, G]`` float32, without materialising ``[B, P, G,
        C]``: ``-sum_c log(1 - p_c) + log(1 - p_g) - log(p_g)``, logs
        clamped at -100 like ``F.binary_cross_entropy``.
    """
    scores = pred_scores.float()
    log_p = scores.log().clamp_(min=LOG_CLAMP)
    log_1mp = torch.log1p(-scores).clamp_(min=LOG_CLAMP)
    index = gt_labels[:, None, :].expand(-1, scores.shape[1], -1)
    cost = log_1mp.gather(2, index).sub_(log_p.gather(2, index))
    return cost.sub_(log_1mp.sum(dim=2, keepdim=True))


def dynamic_k_matching(cost: Tensor, ious: Tensor, candidate: Tensor,
                       gt_valid: Tensor,
                       candidate_topk: int = 10) -> BatchAssignResult:
    """Dynamic-k selection and conflict resolution (steps 3 and 4).

    Args:
        cost (Tensor): ``[B, P, G]`` matching cost (any finite values for
            candidate priors and valid GTs; other entries are ignored).
        ious (Tensor): ``[B, P, G]`` IoU of predicted boxes with GTs.
        candidate (Tensor): ``[B, P]`` bool candidate priors.
        gt_valid (Tensor): ``[B, G]`` bool real GTs.
        candidate_topk (int): IoUs summed for the dynamic k.

    Returns:
        BatchAssignResult: positives, their GT index and IoU.
    """
    num_priors = cost.shape[1]
    usable = candidate[:, :, None] & gt_valid[:, None, :]
    cost = cost.masked_fill(~usable, float('inf'))
    topk = min(candidate_topk, num_priors)
    # k <= sum of at most `topk` IoUs <= topk, so `topk` ranks suffice
    top_ious = ious.masked_fill(~candidate[:, :, None], 0).topk(
        topk, dim=1).values
    dynamic_ks = top_ious.sum(dim=1).int().clamp_(min=1)  # [B, G]
    top_cost, top_idx = cost.topk(topk, dim=1, largest=False)  # [B, k, G]
    ranks = torch.arange(topk, device=cost.device)[None, :, None]
    take = (ranks < dynamic_ks[:, None, :]) & top_cost.isfinite()
    matching = torch.zeros_like(cost, dtype=torch.uint8)
    matching.scatter_(1, top_idx, take.to(torch.uint8))

    num_matched = matching.sum(dim=2)  # [B, P]
    gt_inds = torch.where(num_matched > 1, cost.argmin(dim=2),
                          matching.argmax(dim=2))
    fg_mask = num_matched > 0
    matched_ious = ious.gather(2, gt_inds[:, :, None]).squeeze(2)
    return BatchAssignResult(fg_mask, gt_inds * fg_mask,
                             matched_ious * fg_mask)


@TASK_UTILS.register_module()
class SimOTAAssigner(BaseAssigner):
    """SimOTA assigner (YOLOX paper section 2.1; the rule of the published
    weights, see the module docstring).

    Args:
        center_radius (float): Half side of the centre square around a GT
            centre, in strides of the prior's level. Defaults to 2.5.
        candidate_topk (int): Number of largest IoUs summed into the
            dynamic k. Defaults to 10.
        iou_weight (float): Weight of ``-log(IoU + 1e-7)``. Defaults to 3.0.
        cls_weight (float): Weight of the class BCE cost. Defaults to 1.0.
        max_pairs (int): Images are processed in chunks of at most this many
            (prior, GT) pairs (at least one image a chunk), which bounds the
            memory of crowded batches: about 20 bytes a pair. Defaults to
            2**26 (67M pairs: 8 images of 8400 priors and 1000 GTs).
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
                 max_pairs: int = 2**26,
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
            pred_scores (Tensor): ``[B, P, C]`` ``sqrt(sigmoid(cls) *
                sigmoid(obj))``.
            gt_bboxes (Tensor): ``[B, G, 4]`` xyxy, padded.
            gt_labels (Tensor): ``[B, G]`` long, padded.
            gt_valid (Tensor): ``[B, G]`` bool, False for padding.

        Returns:
            BatchAssignResult: ``[B, P]`` positives, GT indices and IoUs.
        """
        num_imgs, num_priors = pred_bboxes.shape[:2]
        num_gts = gt_bboxes.shape[1]
        if num_gts == 0:
            zeros = pred_bboxes.new_zeros((num_imgs, num_priors))
            return BatchAssignResult(zeros.bool(), zeros.long(), zeros)
        step = max(1, self.max_pairs // max(1, num_priors * num_gts))
        if step >= num_imgs:
            return self._assign_chunk(priors, pred_bboxes, pred_scores,
                                      gt_bboxes, gt_labels, gt_valid)
        chunks = [
            self._assign_chunk(priors, pred_bboxes[i:i + step],
                               pred_scores[i:i + step],
                               gt_bboxes[i:i + step], gt_labels[i:i + step],
                               gt_valid[i:i + step])
            for i in range(0, num_imgs, step)
        ]
        return BatchAssignResult(*(torch.cat(parts) for parts in zip(*chunks)))

    def _assign_chunk(self, priors, pred_bboxes, pred_scores, gt_bboxes,
                      gt_labels, gt_valid) -> BatchAssignResult:
        with torch.autocast(pred_bboxes.device.type, enabled=False):
            pred_bboxes = pred_bboxes.float()
            gt_bboxes = gt_bboxes.float()
            candidate, in_both = candidate_masks(priors.float(), gt_bboxes,
                                                 gt_valid, self.center_radius)
            ious = pairwise_iou(pred_bboxes, gt_bboxes)
            cost = class_cost(pred_scores, gt_labels)
            if self.cls_weight != 1.0:
                cost.mul_(self.cls_weight)
            iou_cost = torch.log(ious + EPS).mul_(-self.iou_weight)
            cost.add_(iou_cost)
            del iou_cost
            cost.add_((~in_both) * INF)
            del in_both
            return dynamic_k_matching(cost, ious, candidate, gt_valid,
                                      self.candidate_topk)

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
        num_gts, num_priors = gt_bboxes.shape[0], pred_instances.bboxes.shape[0]
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
