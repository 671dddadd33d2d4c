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
batch at once, without a per-image or per-GT Python loop (there is only a
loop over chunks of at most ``max_pairs`` (prior, GT) pairs), and the class
cost without the ``[P, G, C]`` tensor. The target of the class BCE is
one-hot, so ``sum_c BCE(p_c, onehot_g) = -sum_c log(1 - p_c) + log(1 -
p_g) - log(p_g)`` (each log clamped at -100 as in
``F.binary_cross_entropy``): a per-prior sum over the ``C`` classes
(:func:`prior_class_sum`) plus two logs of the probability gathered at the
GT label (:func:`label_class_cost`).

Memory:

* the per-prior class sum is taken over blocks of at most
  :data:`ROW_BLOCK` elements of ``[rows, C]``, and
  :meth:`SimOTAAssigner.batch_assign_logits` takes the logits, so that
  neither the assigner nor its caller allocates anything of size
  ``B * P * C``: the memory does not grow with ``C``;
* the ``[B, P, G]`` tensors are built for chunks of at most ``max_pairs``
  pairs: several images a chunk or, for an image with more than
  ``max_pairs`` pairs, blocks of its GTs (the top-k of a GT is over all
  priors of its image, so it does not depend on the blocks; the conflict
  resolution of step 4 is carried across the blocks as a running count,
  arg-min and IoU per prior). About 25 bytes a pair of a chunk at the
  peak (measured: 81 MB for 8 x 8400 x 50 pairs).

On CPU the per-prior class sum is computed for candidate priors only (the
others are never matched), which needs their count on the host; on other
devices it is computed for every prior, in blocks, without host
synchronisation.
"""
from typing import NamedTuple, Optional, Tuple

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
#: Elements of ``[rows, C]`` processed at once by the per-prior class sum
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


def candidate_masks(priors: Tensor, gt_bboxes: Tensor, gt_valid: Tensor,
                    center_radius: float) -> Tuple[Tensor, Tensor]:
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
        and its centre square). Strict comparisons ``x > x1``: mmdet writes
        ``x - x1 > 0``, which in IEEE arithmetic (gradual underflow) holds
        exactly when ``x > x1`` does, so boundary cases agree bit for bit;
        the centre-square bounds ``cx -+ radius * stride`` are computed as
        mmdet computes them.
    """
    x, y, s_x, s_y = (c.contiguous()[None, :, None]
                      for c in priors.unbind(-1))  # [1, P, 1]
    r_x = center_radius * s_x
    r_y = center_radius * s_y
    x1, y1, x2, y2 = (c.contiguous()[:, None, :]
                      for c in gt_bboxes.unbind(-1))  # [B, 1, G]

    # [B, P, G] buffers: the two masks, one for each comparison, one for
    # the bounds of the centre square
    in_box = torch.gt(x, x1)
    test = torch.gt(y, y1)
    in_box &= test
    in_box &= torch.gt(x2, x, out=test)
    in_box &= torch.gt(y2, y, out=test)
    cx = (x1 + x2) / 2.0
    cy = (y1 + y2) / 2.0
    bound = torch.sub(cx, r_x)
    in_ctr = torch.gt(x, bound)
    in_ctr &= torch.gt(y, torch.sub(cy, r_y, out=bound), out=test)
    in_ctr &= torch.gt(torch.add(cx, r_x, out=bound), x, out=test)
    in_ctr &= torch.gt(torch.add(cy, r_y, out=bound), y, out=test)
    del bound, test
    valid = gt_valid[:, None, :]
    in_box &= valid
    in_ctr &= valid
    candidate = (in_box | in_ctr).any(dim=-1)
    in_box &= in_ctr
    return candidate, in_box


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
    # contiguous coordinate columns: broadcasting strided ones is ~20x
    # slower in the element-wise kernels
    p = [c.contiguous()[:, :, None] for c in pred_bboxes.unbind(-1)]
    g = [c.contiguous()[:, None, :] for c in gt_bboxes.unbind(-1)]
    area_p = (p[2] - p[0]) * (p[3] - p[1])  # [B, P, 1]
    area_g = (g[2] - g[0]) * (g[3] - g[1])  # [B, 1, G]
    w = torch.minimum(p[2], g[2]).sub_(torch.maximum(p[0], g[0]))
    h = torch.minimum(p[3], g[3]).sub_(torch.maximum(p[1], g[1]))
    overlap = w.clamp_(min=0).mul_(h.clamp_(min=0))
    union = torch.add(area_p, area_g, out=h).sub_(overlap).clamp_(min=eps)
    return overlap.div_(union)


class ClassProbs:
    """The class probabilities ``p [B, P, C]`` of SimOTA, read by rows or
    at given labels, never materialised whole.

    Either ``probs`` (``[B, P, C]`` probabilities) or ``cls_logits`` and
    ``obj_logits`` (``[B, P, C]`` and ``[B, P]``; then ``p =
    sqrt(sigmoid(cls) * sigmoid(obj))``, the score of YOLOX's SimOTA,
    computed for the elements read only). Any strides (e.g. the transposed
    view that flattening the head's ``(B, C, H, W)`` maps gives); any float
    dtype (computed in float32).
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
        self._obj_probs = None

    @property
    def source(self) -> Tensor:
        return self.probs if self.probs is not None else self.cls_logits

    @property
    def shape(self) -> torch.Size:
        return self.source.shape

    def images(self, start: int, stop: int) -> 'ClassProbs':
        """The same for images ``start:stop``."""
        if self.probs is not None:
            return ClassProbs(self.probs[start:stop])
        return ClassProbs(cls_logits=self.cls_logits[start:stop],
                          obj_logits=self.obj_logits[start:stop])

    def obj_probs(self) -> Tensor:
        """``sigmoid(obj) [B, P]`` float32, computed once."""
        if self._obj_probs is None:
            self._obj_probs = self.obj_logits.float().sigmoid()
        return self._obj_probs

    def rows(self, img_idx: Tensor, prior_idx: Tensor) -> Tensor:
        """``p[img_idx, prior_idx]``: ``[n, C]`` float32, contiguous, a new
        tensor (the caller may modify it)."""
        if self.probs is not None:
            return self.probs[img_idx, prior_idx].float()
        obj = self.obj_probs()[img_idx, prior_idx]
        return self.cls_logits[img_idx, prior_idx].float().sigmoid_().mul_(
            obj[:, None]).sqrt_()

    def at_labels(self, labels: Tensor) -> Tensor:
        """``p[b, q, labels[b, g]]``: ``[B, P, G]`` float32, a new tensor."""
        num_imgs, num_priors = self.shape[:2]
        index = labels[:, None, :].expand(num_imgs, num_priors, -1)
        if self.probs is not None:
            return self.probs.gather(2, index).float()
        return self.cls_logits.gather(2, index).float().sigmoid_().mul_(
            self.obj_probs()[:, :, None]).sqrt_()


def prior_class_sum(probs: ClassProbs,
                    candidate: Optional[Tensor] = None) -> Tensor:
    """``-sum_c max(log(1 - p_c), -100)`` of every prior: ``[B, P]``.

    Computed over blocks of at most :data:`ROW_BLOCK` elements, so the
    memory does not depend on ``C``. With ``candidate`` (``[B, P]`` bool),
    only those priors are computed (the others are 0); this counts them on
    the host (a synchronisation on GPU).
    """
    num_imgs, num_priors, num_classes = probs.shape
    device = probs.source.device
    out = torch.zeros((num_imgs, num_priors), device=device)
    if candidate is not None:
        img_idx, prior_idx = candidate.nonzero(as_tuple=True)
    else:
        flat = torch.arange(num_imgs * num_priors, device=device)
        img_idx, prior_idx = flat // num_priors, flat % num_priors
    step = max(1, ROW_BLOCK // max(1, num_classes))
    for start in range(0, img_idx.numel(), step):
        b, q = img_idx[start:start + step], prior_idx[start:start + step]
        log_1mp = probs.rows(b, q).neg_().log1p_().clamp_(min=LOG_CLAMP)
        out[b, q] = log_1mp.sum(dim=1).neg_()
    return out


def class_cost(pred_scores: Tensor, gt_labels: Tensor) -> Tensor:
    """``sum_c BCE(pred_scores[b, p, c], one_hot(gt_labels[b, g])[c])``.

    Args:
        pred_scores (Tensor): ``[B, P, C]`` probabilities in [0, 1] (SimOTA
            uses ``sqrt(sigmoid(cls) * sigmoid(obj))``).
        gt_labels (Tensor): ``[B, G]`` long class indices.

    Returns:
        Tensor: ``[B, P, G]`` float32, without materialising ``[B, P, G,
        C]``: ``max(log(1 - p_g), -100) - max(log(p_g), -100) - sum_c
        max(log(1 - p_c), -100)``, the log clamp of
        ``F.binary_cross_entropy``; see :func:`label_class_cost` and
        :func:`prior_class_sum`.
    """
    probs = ClassProbs(pred_scores)
    return label_class_cost(probs, gt_labels).add_(
        prior_class_sum(probs)[:, :, None])


def label_class_cost(probs: ClassProbs, gt_labels: Tensor) -> Tensor:
    """The part of the class cost at the GT label: ``max(log(1 - p_g),
    -100) - max(log(p_g), -100)``, ``[B, P, G]`` float32 (one gather of the
    probability, then the two logs; two ``[B, P, G]`` buffers)."""
    p = probs.at_labels(gt_labels)
    log_p = p.log().clamp_(min=LOG_CLAMP)
    return p.neg_().log1p_().clamp_(min=LOG_CLAMP).sub_(log_p)


class _Selection(NamedTuple):
    """Per-prior state of the matching, carried across GT blocks.

    ``count [B, P]`` GTs that selected the prior; ``single_gt``/``single_iou``
    the GT (and IoU) of the last selection, which is the only one when
    ``count == 1``; ``best_cost``/``best_gt``/``best_iou`` the running
    minimum of the cost over all (usable) GTs, first index on ties, as
    ``argmin`` does.
    """
    count: Tensor
    single_gt: Tensor
    single_iou: Tensor
    best_cost: Tensor
    best_gt: Tensor
    best_iou: Tensor

    @classmethod
    def empty(cls, num_imgs: int, num_priors: int,
              device: torch.device) -> '_Selection':
        shape = (num_imgs, num_priors)
        return cls(
            torch.zeros(shape, dtype=torch.int32, device=device),
            torch.zeros(shape, dtype=torch.long, device=device),
            torch.zeros(shape, device=device),
            torch.full(shape, float('inf'), device=device),
            torch.zeros(shape, dtype=torch.long, device=device),
            torch.zeros(shape, device=device))

    def result(self) -> BatchAssignResult:
        """Step 4: a prior selected by several GTs goes to its GT of least
        cost (over all GTs of the image)."""
        fg_mask = self.count > 0
        several = self.count > 1
        gt_inds = torch.where(several, self.best_gt, self.single_gt)
        ious = torch.where(several, self.best_iou, self.single_iou)
        return BatchAssignResult(fg_mask, gt_inds * fg_mask, ious * fg_mask)


def _select(cost: Tensor, ious: Tensor, candidate: Tensor, gt_valid: Tensor,
            candidate_topk: int, state: _Selection, gt_offset: int = 0,
            inplace: bool = False) -> None:
    """Step 3 for a block of GTs (columns ``gt_offset:`` of the image's
    GTs), accumulated into ``state`` (modified in place). With ``inplace``,
    ``cost`` and ``ious`` are overwritten."""
    num_imgs, num_priors, num_gts = cost.shape
    # +inf for non-candidate priors and padded GTs, IoU 0 for non-candidate
    # priors (for the dynamic k; padded GTs take nothing anyway), with
    # broadcast masks
    not_candidate = torch.logical_not(candidate)[:, :, None]
    padded = torch.logical_not(gt_valid)[:, None, :]
    if not inplace:
        cost, ious = cost.clone(), ious.clone()
    cost.masked_fill_(not_candidate, float('inf'))
    cost.masked_fill_(padded, float('inf'))
    ious.masked_fill_(not_candidate, 0)
    del not_candidate, padded
    topk = min(candidate_topk, num_priors)
    # k <= sum of at most `topk` IoUs <= topk, so `topk` ranks suffice
    top_ious = ious.topk(topk, dim=1).values  # [B, k, G]
    dynamic_ks = top_ious.sum(dim=1).int().clamp_(min=1)  # [B, G]
    top_cost, top_idx = cost.topk(topk, dim=1, largest=False)  # [B, k, G]
    ranks = torch.arange(topk, device=cost.device)[None, :, None]
    take = (ranks < dynamic_ks[:, None, :]) & top_cost.isfinite()

    # counts, and the GT (and IoU) of the selections, by scatter over
    # [B, P + 1]: column P collects the entries that are not taken
    dump = torch.where(take, top_idx, num_priors).flatten(1)
    count = torch.zeros((num_imgs, num_priors + 1), dtype=torch.int32,
                        device=cost.device)
    count.scatter_add_(1, dump, take.flatten(1).int())
    count = count[:, :num_priors]
    state.count.add_(count)
    selected = count > 0
    gts = torch.arange(gt_offset, gt_offset + num_gts, device=cost.device)
    for target, values in ((state.single_gt, gts.expand_as(take)),
                           (state.single_iou,
                            ious.gather(1, top_idx))):
        scattered = target.new_zeros((num_imgs, num_priors + 1))
        scattered.scatter_(1, dump, values.flatten(1))
        target.copy_(torch.where(selected, scattered[:, :num_priors],
                                 target))

    # running arg-min of the cost over GTs (first index on ties)
    block_cost, block_gt = cost.min(dim=2)
    better = block_cost < state.best_cost
    state.best_cost.copy_(torch.where(better, block_cost, state.best_cost))
    state.best_iou.copy_(torch.where(
        better, ious.gather(2, block_gt[:, :, None])[:, :, 0],
        state.best_iou))
    state.best_gt.copy_(torch.where(better, block_gt + gt_offset,
                                    state.best_gt))


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
    state = _Selection.empty(*cost.shape[:2], cost.device)
    _select(cost, ious, candidate, gt_valid, candidate_topk, state)
    return state.result()


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
        max_pairs (int): The ``[B, P, G]`` tensors are built for at most
            this many (prior, GT) pairs at a time: several images, or, when
            one image has more pairs, blocks of at least one of its GTs.
            About 25 bytes a pair at the peak. Defaults to 2**22 (4M pairs,
            16 MiB per float32 tensor: small enough for glibc to recycle
            the buffers instead of ``mmap``-ing and page-faulting them
            again; 8 x 8400 priors x 50 GTs fit in one chunk).
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
                 max_pairs: int = 2**22,
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
            BatchAssignResult: ``[B, P]`` positives, GT indices and IoUs.
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
        """Assign a chunk of images, their GTs in blocks of ``gt_step``."""
        num_imgs, num_priors = pred_bboxes.shape[:2]
        num_gts = gt_bboxes.shape[1]
        blocks = [(g, min(g + gt_step, num_gts))
                  for g in range(0, num_gts, gt_step)]
        in_both = None
        if len(blocks) == 1:
            candidate, in_both = candidate_masks(priors, gt_bboxes, gt_valid,
                                                 self.center_radius)
        else:  # the candidates depend on all the GTs of an image
            candidate = torch.zeros((num_imgs, num_priors), dtype=torch.bool,
                                    device=pred_bboxes.device)
            for start, stop in blocks:
                candidate |= candidate_masks(
                    priors, gt_bboxes[:, start:stop],
                    gt_valid[:, start:stop], self.center_radius)[0]
        # the other priors are never matched: on CPU, skip their class sum
        class_sum = prior_class_sum(
            probs, candidate if pred_bboxes.is_cpu else None)
        state = _Selection.empty(num_imgs, num_priors, pred_bboxes.device)
        for start, stop in blocks:
            if in_both is None:
                in_both = candidate_masks(priors, gt_bboxes[:, start:stop],
                                          gt_valid[:, start:stop],
                                          self.center_radius)[1]
            cost = label_class_cost(probs, gt_labels[:, start:stop])
            cost.add_(class_sum[:, :, None])
            if self.cls_weight != 1.0:
                cost.mul_(self.cls_weight)
            ious = pairwise_iou(pred_bboxes, gt_bboxes[:, start:stop])
            # + iou_weight * -log(IoU + eps), then + INF * ~in_both, in
            # mmdet's order (one float buffer for both terms)
            term = torch.add(ious, EPS).log_().mul_(-self.iou_weight)
            cost.add_(term)
            cost.add_(torch.where(in_both, term.new_zeros(()),
                                  term.new_full((), INF), out=term))
            del term
            in_both = None
            _select(cost, ious, candidate, gt_valid[:, start:stop],
                    self.candidate_topk, state, gt_offset=start,
                    inplace=True)
            del cost, ious
        return state.result()

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
