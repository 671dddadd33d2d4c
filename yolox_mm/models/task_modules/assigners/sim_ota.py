"""SimOTA (YOLOX paper, arXiv 2107.08430, section 2.1), one function per
step: tensors in, new tensors out (no ``out=`` buffers, inputs never
modified; a function updates its own new ``[B, P, G]`` temporaries in
place, since on CPU each new one costs a page-faulted allocation).

Notation: ``B`` images, ``P`` priors (all levels, one point per location),
``G`` ground-truth boxes per image (padded to the largest image; ``gt_valid
[B, G]`` marks real ones), ``C`` classes, ``K = min(candidate_topk, P)``.
Boxes are ``xyxy`` in pixels of the padded network input. Priors are ``(cx,
cy, stride_w, stride_h)`` with the centre at ``grid * stride + 0.5 *
stride`` (the geometry the published weights were trained with).

The steps, and where they are in the references (Megvii
``yolox/models/yolo_head.py`` up to tag 0.3.0: ``get_assignments``,
``get_in_boxes_info``, ``dynamic_k_matching``; mmdet 3.3.0
``mmdet/models/task_modules/assigners/sim_ota_assigner.py``:
``assign``, ``get_in_gt_and_in_center_info``, ``dynamic_k_matching``):

1. :func:`candidate_masks`: a prior is a candidate if its centre is
   strictly inside a GT box **or** strictly inside the square of half-side
   ``center_radius`` strides around a GT centre (any GT of the image);
   ``in_both`` marks (prior, GT) pairs inside that GT's box **and** square.
2. :func:`matching_cost` of (prior, GT) = ``cls_weight * class BCE +
   iou_weight * -log(IoU + EPS) + INF * (not in_both)``, with
   :func:`pairwise_iou` and :func:`class_cost`; ``+inf`` for priors that
   are not candidates and for padded GTs, IoU 0 for priors that are not
   candidates (the references compute the IoU and cost of one image's
   candidates only; batched with padding, these are the same matrices).
3. :func:`dynamic_k`: ``k = max(1, floor(sum of the K largest IoUs of the
   GT with candidate priors)))``; :func:`select_dynamic_k`: every GT takes
   its ``k`` cheapest candidate priors.
4. :func:`resolve_conflicts`: a prior taken by several GTs goes to its GT
   of least cost (over all real GTs of the image, :func:`cheapest_gt`).

Version: this is SimOTA V1, the rule of the published weights, of mmdet
3.3.0 and of Megvii up to tag 0.3.0. Megvii's ``main`` branch since 2023-01
uses another candidate rule (centre within 1.5 strides only); no released
weights use it, so neither do we.

``EPS = 1e-7`` in the IoU cost is mmdet's (the parity tests compare with
mmdet); Megvii 0.3.0 writes ``-torch.log(pair_wise_ious + 1e-8)``. With
weight 3 the two IoU costs differ by about ``2.7e-7 / IoU`` where the IoU
is positive and by ``3 ln 10 = 6.9`` where it is 0, so only a choice
between a pair of IoU 0 and another pair within 6.9 of its cost (a GT
whose k cheapest candidates include IoU-0 pairs) can differ from Megvii.

Class cost without ``[B, P, G, C]``: the target of the class BCE is one-hot,
so ``sum_c BCE(p_c, onehot_g) = -sum_c log(1 - p_c) + log(1 - p_g) -
log(p_g)`` (each log clamped at -100 as in ``F.binary_cross_entropy``): a
per-prior sum over the ``C`` classes (:func:`prior_class_sum`, computed in
blocks of :data:`ROW_BLOCK` elements, so memory does not grow with ``C``)
plus two logs of the probability at the GT label (:func:`label_class_cost`).
:class:`ClassProbs` reads the probabilities ``sqrt(sigmoid(cls) *
sigmoid(obj))`` from the logits only where needed.
"""
from functools import cached_property
from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

#: Cost added to (prior, GT) pairs that are not both in the box and in the
#: centre square (``INF`` in mmdet, ``100000.0`` in Megvii).
INF = 100000.0
#: Added to the IoU inside the log of the IoU cost (mmdet; Megvii: 1e-8).
EPS = 1.0e-7
#: Clamp of the logarithms, as in ``torch.nn.functional.binary_cross_entropy``.
LOG_CLAMP = -100.0
#: Elements of ``[rows, C]`` processed at once by :func:`prior_class_sum`
#: (1 MiB of float32: stays in cache, and bounds the memory whatever ``C``).
ROW_BLOCK = 2**18


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


# ------------------------------------------------------------------ step 1
def candidate_masks(priors: Tensor, gt_bboxes: Tensor, gt_valid: Tensor,
                    center_radius: float) -> Tuple[Tensor, Tensor]:
    """Step 1, the centre prior: candidates and the "in both" mask.

    Args:
        priors (Tensor): ``[P, 4]`` ``(cx, cy, stride_w, stride_h)``, centres
            with the 0.5-stride offset, pixels.
        gt_bboxes (Tensor): ``[B, G, 4]`` xyxy, pixels.
        gt_valid (Tensor): ``[B, G]`` bool, False for padding.
        center_radius (float): Half side of the centre square, in strides.

    Returns:
        tuple[Tensor, Tensor]: ``candidate [B, P]`` bool (inside any real
        GT box or any centre square) and ``in_both [B, P, G]`` bool (inside
        this GT's box and its centre square; False for padded GTs).
        Comparisons are strict (``x > x1``; mmdet's ``x - x1 > 0`` holds
        exactly when ``x > x1`` does in IEEE arithmetic), the square bounds
        ``cx -+ center_radius * stride`` are computed as mmdet computes them.
    """
    x, y, s_x, s_y = (c.contiguous()[None, :, None]
                      for c in priors.unbind(-1))  # [1, P, 1]
    x1, y1, x2, y2 = (c.contiguous()[:, None, :]
                      for c in gt_bboxes.unbind(-1))  # [B, 1, G]
    valid = gt_valid[:, None, :]
    in_box = x > x1
    in_box &= y > y1
    in_box &= x2 > x
    in_box &= y2 > y
    in_box &= valid
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    r_x, r_y = center_radius * s_x, center_radius * s_y
    # the four sides of the square in turn in one [B, P, G] buffer
    side = cx - r_x
    in_square = x > side
    in_square &= y > side.copy_(cy).sub_(r_y)
    in_square &= side.copy_(cx).add_(r_x) > x
    in_square &= side.copy_(cy).add_(r_y) > y
    in_square &= valid
    candidate = (in_box | in_square).any(dim=-1)
    return candidate, in_box & in_square


# ------------------------------------------------------------------ step 2
def pairwise_iou(pred_bboxes: Tensor, gt_bboxes: Tensor, eps: float = 1e-6,
                 candidate: Optional[Tensor] = None) -> Tensor:
    """IoU of every predicted box with every GT of the same image (as
    torchvision ``box_iou``, batched; mmdet ``bbox_overlaps`` arithmetic).

    Args:
        pred_bboxes (Tensor): ``[B, P, 4]`` xyxy, pixels.
        gt_bboxes (Tensor): ``[B, G, 4]`` xyxy, pixels.
        eps (float): Lower bound of the union (mmdet ``bbox_overlaps``).
        candidate (Tensor, optional): ``[B, P]`` bool: the IoU of the other
            priors is set to 0 (SimOTA: Megvii and mmdet compute the IoU of
            one image's candidate priors only, ``fg_mask`` / ``valid_mask``).

    Returns:
        Tensor: ``[B, P, G]`` IoU in [0, 1].
    """
    # contiguous coordinate columns: broadcasting strided ones is ~20x
    # slower in the element-wise kernels
    p = [c.contiguous()[:, :, None] for c in pred_bboxes.unbind(-1)]
    g = [c.contiguous()[:, None, :] for c in gt_bboxes.unbind(-1)]
    area_p = (p[2] - p[0]) * (p[3] - p[1])  # [B, P, 1]
    area_g = (g[2] - g[0]) * (g[3] - g[1])  # [B, 1, G]
    w = torch.minimum(p[2], g[2]).sub_(torch.maximum(p[0], g[0])).clamp_(min=0)
    h = torch.minimum(p[3], g[3]).sub_(torch.maximum(p[1], g[1])).clamp_(min=0)
    overlap = w.mul_(h)
    union = h.copy_(area_p).add_(area_g).sub_(overlap).clamp_(min=eps)
    ious = overlap.div_(union)
    if candidate is not None:
        ious.masked_fill_(~candidate[:, :, None], 0)
    return ious


class ClassProbs:
    """The class probabilities ``p [B, P, C]`` of SimOTA, read by rows or
    at given labels, never materialised whole.

    Either ``probs`` (``[B, P, C]`` probabilities) or ``cls_logits`` and
    ``obj_logits`` (``[B, P, C]`` and ``[B, P]``; then ``p =
    sqrt(sigmoid(cls) * sigmoid(obj))``, the score of YOLOX's SimOTA,
    computed for the elements read only). Any strides (e.g. the transposed
    view that flattening the head's ``(B, C, H, W)`` maps gives); any float
    dtype (computed in float32).

    Raises:
        ValueError: unless exactly one of ``probs`` and ``(cls_logits,
            obj_logits)`` is given.
    """

    def __init__(self, probs: Optional[Tensor] = None,
                 cls_logits: Optional[Tensor] = None,
                 obj_logits: Optional[Tensor] = None) -> None:
        if (probs is None) == (cls_logits is None) or \
                (cls_logits is None) != (obj_logits is None):
            raise ValueError('ClassProbs takes either probs or both '
                             'cls_logits and obj_logits')
        self.probs = probs
        self.cls_logits = cls_logits
        self.obj_logits = obj_logits

    @property
    def shape(self) -> torch.Size:
        """``(B, P, C)``."""
        return self._tensor.shape

    @property
    def device(self) -> torch.device:
        return self._tensor.device

    @property
    def _tensor(self) -> Tensor:
        """The ``[B, P, C]`` tensor held: ``probs`` or ``cls_logits``."""
        return self.probs if self.probs is not None else self.cls_logits

    def images(self, start: int, stop: int) -> 'ClassProbs':
        """The same for images ``start:stop``."""
        if self.probs is not None:
            return ClassProbs(self.probs[start:stop])
        return ClassProbs(cls_logits=self.cls_logits[start:stop],
                          obj_logits=self.obj_logits[start:stop])

    @cached_property
    def obj_probs(self) -> Tensor:
        """``sigmoid(obj) [B, P]`` float32."""
        return self.obj_logits.float().sigmoid()

    def rows(self, img_idx: Tensor, prior_idx: Tensor) -> Tensor:
        """``p[img_idx, prior_idx]``: ``[n, C]`` float32, a new tensor."""
        if self.probs is not None:
            return self.probs[img_idx, prior_idx].float()
        obj = self.obj_probs[img_idx, prior_idx]
        return self.cls_logits[img_idx, prior_idx].float().sigmoid_().mul_(
            obj[:, None]).sqrt_()

    def at_labels(self, labels: Tensor) -> Tensor:
        """``p[b, q, labels[b, g]]``: ``[B, P, G]`` float32, a new tensor."""
        num_imgs, num_priors = self.shape[:2]
        index = labels[:, None, :].expand(num_imgs, num_priors, -1)
        if self.probs is not None:
            return self.probs.gather(2, index).float()
        return self.cls_logits.gather(2, index).float().sigmoid_().mul_(
            self.obj_probs[:, :, None]).sqrt_()


def prior_class_sum(probs: ClassProbs, rows: Optional[Tensor] = None,
                    block: int = ROW_BLOCK) -> Tensor:
    """``-sum_c max(log(1 - p_c), -100)`` of every prior: ``[B, P]``
    float32, the part of the class cost that does not depend on the GT.

    Args:
        probs (ClassProbs): ``p [B, P, C]``.
        rows (Tensor, optional): ``[B, P]`` bool: compute only these priors
            (the others are 0). Counts them on the host (a synchronisation
            on GPU). Default: all priors.
        block (int): Elements of ``[rows, C]`` computed at once (bounds the
            memory whatever ``C``; the values do not depend on it).
    """
    num_imgs, num_priors, num_classes = probs.shape
    out = torch.zeros((num_imgs, num_priors), device=probs.device)
    if rows is not None:
        img_idx, prior_idx = rows.nonzero(as_tuple=True)
    else:
        flat = torch.arange(num_imgs * num_priors, device=out.device)
        img_idx, prior_idx = flat // num_priors, flat % num_priors
    step = max(1, block // max(1, num_classes))
    for start in range(0, img_idx.numel(), step):
        b, q = img_idx[start:start + step], prior_idx[start:start + step]
        log_1mp = probs.rows(b, q).neg_().log1p_().clamp_(min=LOG_CLAMP)
        out[b, q] = log_1mp.sum(dim=1).neg_()
    return out


def label_class_cost(probs: ClassProbs, gt_labels: Tensor) -> Tensor:
    """The part of the class cost at the GT label: ``max(log(1 - p_g),
    -100) - max(log(p_g), -100)``, ``[B, P, G]`` float32.

    Args:
        probs (ClassProbs): ``p [B, P, C]``.
        gt_labels (Tensor): ``[B, G]`` long class indices.
    """
    p = probs.at_labels(gt_labels)  # a new tensor, updated in place
    log_p = p.log().clamp_(min=LOG_CLAMP)
    return p.neg_().log1p_().clamp_(min=LOG_CLAMP).sub_(log_p)


def class_cost(probs: Union[Tensor, ClassProbs], gt_labels: Tensor,
               prior_sum: Optional[Tensor] = None) -> Tensor:
    """``sum_c BCE(p[b, q, c], one_hot(gt_labels[b, g])[c])``, ``[B, P, G]``
    float32, by the one-hot identity of the module docstring (no ``[B, P,
    G, C]`` tensor).

    Args:
        probs (Tensor | ClassProbs): ``[B, P, C]`` probabilities in [0, 1]
            (SimOTA: ``sqrt(sigmoid(cls) * sigmoid(obj))``).
        gt_labels (Tensor): ``[B, G]`` long class indices.
        prior_sum (Tensor, optional): ``[B, P]`` :func:`prior_class_sum` of
            ``probs`` when already computed (it does not depend on the GTs).
    """
    if not isinstance(probs, ClassProbs):
        probs = ClassProbs(probs)
    if prior_sum is None:
        prior_sum = prior_class_sum(probs)
    return label_class_cost(probs, gt_labels).add_(prior_sum[:, :, None])


def matching_cost(cls_cost: Tensor, ious: Tensor, in_both: Tensor,
                  candidate: Tensor, gt_valid: Tensor,
                  iou_weight: float = 3.0, cls_weight: float = 1.0) -> Tensor:
    """Step 2: SimOTA's cost of every (prior, GT) pair, ``[B, P, G]``
    float32::

        cost = cls_weight * cls_cost + iou_weight * -log(IoU + EPS)
               + INF * (not in_both)

    on (candidate prior, real GT) pairs, ``+inf`` on the others (they are
    never matched: Megvii and mmdet compute the cost of one image's
    candidates only, ``fg_mask`` / ``valid_mask``). Megvii ``yolo_head.py``
    0.3.0 ``get_assignments``; mmdet ``SimOTAAssigner.assign``; the same
    sums, rounded alike.

    Args:
        cls_cost (Tensor): ``[B, P, G]`` :func:`class_cost`.
        ious (Tensor): ``[B, P, G]`` :func:`pairwise_iou`.
        in_both (Tensor): ``[B, P, G]`` bool, from :func:`candidate_masks`.
        candidate (Tensor): ``[B, P]`` bool, from :func:`candidate_masks`
            over all GTs of the image.
        gt_valid (Tensor): ``[B, G]`` bool, False for padding.
        iou_weight, cls_weight (float): Weights (paper: 3 and 1).
    """
    # one new [B, P, G] tensor, the terms added to it in place (IEEE
    # addition commutes: the same sums as cls + iou + penalty, bit for bit)
    cost = torch.add(ious, EPS).log_().mul_(-iou_weight)
    cost += cls_cost if cls_weight == 1.0 else cls_weight * cls_cost
    cost.add_(~in_both, alpha=INF)
    cost.masked_fill_(~candidate[:, :, None], float('inf'))
    return cost.masked_fill_(~gt_valid[:, None, :], float('inf'))


# ------------------------------------------------------------------ step 3
def dynamic_k(ious: Tensor, candidate_topk: int = 10) -> Tensor:
    """Step 3a: ``k = max(1, floor(sum of the K largest IoUs of the GT with
    candidate priors)))``, ``[B, G]`` int32 (Megvii and mmdet
    ``dynamic_k_matching``).

    Args:
        ious (Tensor): ``[B, P, G]``, 0 for priors that are not candidates
            (:func:`pairwise_iou` with ``candidate``).
        candidate_topk (int): ``K`` (paper: 10).
    """
    top = ious.topk(min(candidate_topk, ious.shape[1]), dim=1).values
    return top.sum(dim=1).int().clamp(min=1)


class Selection(NamedTuple):
    """The priors each GT takes in step 3 (a matching matrix, stored by GT:
    ``K`` slots per GT, ``k <= K`` of them taken). GT ``g`` of image ``b``
    takes ``priors[b, r, g]`` for every ``r`` with ``taken[b, r, g]``.

    Attributes:
        priors (Tensor): ``[B, K, G]`` long prior indices, cheapest first.
        taken (Tensor): ``[B, K, G]`` bool.
        ious (Tensor): ``[B, K, G]`` IoU of those pairs.
    """
    priors: Tensor
    taken: Tensor
    ious: Tensor


def select_dynamic_k(cost: Tensor, ious: Tensor,
                     candidate_topk: int = 10) -> Selection:
    """Step 3: every GT takes its :func:`dynamic_k` cheapest priors of
    finite cost (so padded GTs and GTs without candidates take none).

    Args:
        cost (Tensor): ``[B, P, G]`` :func:`matching_cost` (``+inf``: not
            to be matched).
        ious (Tensor): ``[B, P, G]`` :func:`pairwise_iou`, 0 for priors
            that are not candidates.
        candidate_topk (int): ``K``, IoUs summed for the dynamic k.

    Returns:
        Selection: ``[B, K, G]``. On exactly equal costs the prior taken is
        ``torch.topk``'s choice (docs/differences_from_mmdet.md).
    """
    ks = dynamic_k(ious, candidate_topk)  # [B, G]
    top_cost, top_idx = cost.topk(min(candidate_topk, cost.shape[1]), dim=1,
                                  largest=False)
    ranks = torch.arange(top_idx.shape[1], device=cost.device)[None, :, None]
    taken = (ranks < ks[:, None, :]) & top_cost.isfinite()
    return Selection(top_idx, taken, ious.gather(1, top_idx))


# ------------------------------------------------------------------ step 4
class Cheapest(NamedTuple):
    """The real GT of least cost of every prior (first index on ties).

    Attributes:
        cost (Tensor): ``[B, P]`` that cost (``+inf`` without real GT).
        gt (Tensor): ``[B, P]`` long, the GT (index in the image's list).
        iou (Tensor): ``[B, P]`` IoU with that GT.
    """
    cost: Tensor
    gt: Tensor
    iou: Tensor

    def merge(self, later: 'Cheapest') -> 'Cheapest':
        """The cheapest of two GT blocks, ``later`` holding GTs of higher
        indices (kept only when strictly cheaper: first index on ties)."""
        better = later.cost < self.cost
        return Cheapest(*(torch.where(better, b, a)
                          for a, b in zip(self, later)))


def cheapest_gt(cost: Tensor, ious: Tensor, gt_offset: int = 0) -> Cheapest:
    """Step 4a: the GT of least cost of every prior (Megvii and mmdet
    ``dynamic_k_matching``: ``torch.min(cost[:, conflicts], dim=...)``).

    Args:
        cost, ious (Tensor): ``[B, P, G]``, :func:`matching_cost` (with
            ``+inf`` for padded GTs, which are thus never the cheapest) and
            :func:`pairwise_iou`.
        gt_offset (int): Index of GT 0 of these columns in the image's list
            (for blocks of GTs, see :meth:`Cheapest.merge`).
    """
    best_cost, best_gt = cost.min(dim=2)
    best_iou = ious.gather(2, best_gt[:, :, None])[:, :, 0]
    return Cheapest(best_cost, best_gt + gt_offset, best_iou)


def resolve_conflicts(selection: Selection,
                      cheapest: Cheapest) -> BatchAssignResult:
    """Step 4: a prior taken by one GT is matched to it; a prior taken by
    several goes to its :func:`cheapest_gt` (Megvii ``dynamic_k_matching``,
    ``anchor_matching_gt > 1``; mmdet ``prior_match_gt_mask``).

    Args:
        selection (Selection): ``[B, K, G]``, GT ``g`` = column ``g`` of the
            image's GT list.
        cheapest (Cheapest): ``[B, P]``, over all GTs of the image.

    Returns:
        BatchAssignResult: ``[B, P]``.
    """
    num_imgs, num_priors = cheapest.cost.shape
    num_gts = selection.priors.shape[2]
    # scatter over [B, P + 1]: column P collects the slots not taken
    slot = torch.where(selection.taken, selection.priors,
                       num_priors).flatten(1)
    count = torch.zeros((num_imgs, num_priors + 1), dtype=torch.int32,
                        device=slot.device).scatter_add(
                            1, slot, torch.ones_like(slot, dtype=torch.int32))
    gt_index = torch.arange(num_gts, device=slot.device).expand_as(
        selection.priors).flatten(1)
    taker = torch.zeros_like(count, dtype=torch.long).scatter(1, slot,
                                                              gt_index)
    taker_iou = torch.zeros_like(count, dtype=cheapest.iou.dtype).scatter(
        1, slot, selection.ious.flatten(1))
    count = count[:, :num_priors]
    fg_mask, several = count > 0, count > 1
    gt_inds = torch.where(several, cheapest.gt, taker[:, :num_priors])
    ious = torch.where(several, cheapest.iou, taker_iou[:, :num_priors])
    return BatchAssignResult(fg_mask, gt_inds * fg_mask, ious * fg_mask)
