"""Which priors SimOTA makes positive for each ground-truth box, with their
dynamic k, and the picture of it (Megvii ``tools/visualize_assign.py`` and
``yolox.utils.visualize_assign``; paper section 2.1 "SimOTA").

Notation as in ``yolox_mm.models.task_modules.assigners.sim_ota_assigner``:
``P`` priors over all levels, ``G`` GT boxes, boxes xyxy in pixels of the
padded network input, priors ``(cx, cy, stride_w, stride_h)`` with the
0.5-stride offset (the point SimOTA tests and the picture shows).

The assignment is computed as in training (``YOLOXHead.loss_by_feat``):
the head's outputs on the image are decoded and passed, with the GTs, to
the assigner's public ``batch_assign_logits``. The dynamic k of a GT is
step 3 of SimOTA, ``max(1, int(sum of its candidate_topk largest IoUs with
candidate priors))``; after step 4 (a prior claimed by several GTs goes to
the cheapest) a GT may keep fewer than k priors. The model runs in eval mode
(BatchNorm with its running statistics), i.e. on the predictions a trained
checkpoint makes; during training the batch statistics are used instead.
"""
import colorsys
from typing import List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor

from yolox_mm.models.dense_heads.yolox_head import flatten_levels
from yolox_mm.models.task_modules.assigners import (candidate_masks,
                                                    pairwise_iou)
from yolox_mm.models.task_modules.coders import decode_bboxes, prior_centers

#: Colour of a GT that got no positive prior (BGR, as Megvii's).
UNMATCHED_COLOR = (0, 0, 255)


class Assignment(NamedTuple):
    """SimOTA's result for one image.

    Attributes:
        priors (Tensor): ``[P, 4]`` ``(cx, cy, stride_w, stride_h)``, offset
            centres in input pixels.
        gt_bboxes (Tensor): ``[G, 4]`` xyxy input pixels.
        gt_labels (Tensor): ``[G]`` class indices.
        dynamic_ks (Tensor): ``[G]`` long, the k of each GT (step 3).
        num_candidates (Tensor): ``[G]`` long, priors in the box or the
            centre square of each GT (step 1).
        gt_inds (Tensor): ``[P]`` long, index of the GT a positive prior is
            assigned to (after step 4), -1 for negatives.
        ious (Tensor): ``[P]`` IoU of a positive prior's predicted box with
            its GT, 0 for negatives.
    """
    priors: Tensor
    gt_bboxes: Tensor
    gt_labels: Tensor
    dynamic_ks: Tensor
    num_candidates: Tensor
    gt_inds: Tensor
    ious: Tensor

    def positives(self, gt: int) -> Tensor:
        """Indices of the priors assigned to GT ``gt``."""
        return (self.gt_inds == gt).nonzero(as_tuple=True)[0]


def head_predictions(model: torch.nn.Module,
                     inputs: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Run a YOLOX on ``inputs [1, 3, H, W]`` (after the data preprocessor).

    Returns:
        tuple: ``priors [P, 4]`` offset centres and strides, ``pred_bboxes
        [1, P, 4]`` decoded xyxy, ``cls_logits [1, P, C]``, ``obj_logits
        [1, P]``.
    """
    head = model.bbox_head
    with torch.no_grad():
        cls_scores, bbox_preds, objectnesses = head(model.extract_feat(inputs))
    grid = torch.cat(head.prior_generator.grid_priors(
        [s.shape[2:] for s in cls_scores], dtype=inputs.dtype,
        device=inputs.device, with_stride=True))  # grid points, no offset
    pred_bboxes = decode_bboxes(grid, flatten_levels(bbox_preds))
    priors = prior_centers(grid)
    return (priors, pred_bboxes, flatten_levels(cls_scores),
            flatten_levels(objectnesses)[..., 0])


def dynamic_ks(assigner, priors: Tensor, pred_bboxes: Tensor,
               gt_bboxes: Tensor) -> Tuple[Tensor, Tensor]:
    """Step 1 and the k of step 3 for one image.

    Args:
        assigner: Our ``SimOTAAssigner`` (``center_radius``,
            ``candidate_topk``).
        priors (Tensor): ``[P, 4]`` offset centres and strides.
        pred_bboxes (Tensor): ``[1, P, 4]`` xyxy.
        gt_bboxes (Tensor): ``[G, 4]`` xyxy.

    Returns:
        tuple[Tensor, Tensor]: ``dynamic_ks [G]`` and ``num_candidates
        [G]`` (priors in the GT's box or centre square), long.
    """
    valid = torch.ones((1, len(gt_bboxes)), dtype=torch.bool)
    candidate, _ = candidate_masks(priors, gt_bboxes[None], valid,
                                   assigner.center_radius)
    ious = pairwise_iou(pred_bboxes, gt_bboxes[None])[0]  # [P, G]
    ious[~candidate[0]] = 0
    topk = min(assigner.candidate_topk, ious.shape[0])
    ks = ious.topk(topk, dim=0).values.sum(dim=0).int().clamp(min=1)
    # candidates of each GT on its own (the mask above is over all GTs)
    per_gt = torch.stack([
        candidate_masks(priors, box[None, None], valid[:, :1],
                        assigner.center_radius)[0][0] for box in gt_bboxes
    ]) if len(gt_bboxes) else torch.zeros((0, len(priors)), dtype=torch.bool)
    return ks.long(), per_gt.sum(dim=1).long()


def simota_assignment(model: torch.nn.Module, inputs: Tensor,
                      gt_bboxes: Tensor, gt_labels: Tensor) -> Assignment:
    """SimOTA on one image with the model's assigner, as in training.

    Args:
        model (nn.Module): A yolox_mm YOLOX whose ``bbox_head`` has an
            ``assigner`` (built from ``train_cfg``).
        inputs (Tensor): ``[1, 3, H, W]`` after the data preprocessor.
        gt_bboxes (Tensor): ``[G, 4]`` xyxy in input pixels.
        gt_labels (Tensor): ``[G]`` class indices.

    Returns:
        Assignment: positives per GT, dynamic k, candidates.

    Raises:
        ValueError: for inputs that are not one image, or GT tensors of
            other shapes.
        TypeError: when the head has no assigner with
            ``batch_assign_logits`` (ours).
    """
    if inputs.dim() != 4 or inputs.shape[0] != 1:
        raise ValueError(f'inputs must be [1, 3, H, W], got '
                         f'{list(inputs.shape)}')
    if gt_bboxes.dim() != 2 or gt_bboxes.shape[1] != 4 or \
            gt_labels.shape != gt_bboxes.shape[:1]:
        raise ValueError('gt_bboxes must be [G, 4] and gt_labels [G], got '
                         f'{list(gt_bboxes.shape)} and '
                         f'{list(gt_labels.shape)}')
    assigner = getattr(model.bbox_head, 'assigner', None)
    if not hasattr(assigner, 'batch_assign_logits'):
        raise TypeError('the head needs yolox_mm\'s SimOTAAssigner (set '
                        'model.train_cfg.assigner); got '
                        f'{type(assigner).__name__}')
    gt_bboxes, gt_labels = gt_bboxes.float(), gt_labels.long()
    priors, pred_bboxes, cls_logits, obj_logits = head_predictions(
        model, inputs)
    result = assigner.batch_assign_logits(
        priors, pred_bboxes, cls_logits, obj_logits, gt_bboxes[None],
        gt_labels[None], torch.ones((1, len(gt_bboxes)), dtype=torch.bool))
    ks, num_candidates = dynamic_ks(assigner, priors, pred_bboxes, gt_bboxes)
    gt_inds = torch.where(result.fg_mask[0], result.gt_inds[0], -1)
    return Assignment(priors, gt_bboxes, gt_labels, ks, num_candidates,
                      gt_inds, result.ious[0])


def gt_colors(num: int) -> List[Tuple[int, int, int]]:
    """``num`` distinct BGR colours (hues evenly spaced, red left out for
    :data:`UNMATCHED_COLOR`)."""
    colors = []
    for i in range(num):
        hue = 0.08 + 0.84 * ((i * 0.618034) % 1.0)
        r, g, b = colorsys.hsv_to_rgb(hue, 0.9, 1.0)
        colors.append((int(b * 255), int(g * 255), int(r * 255)))
    return colors


def prior_radius(stride: float) -> int:
    """Dot radius of a prior in pixels: 2, 3, 4 for strides 8, 16, 32."""
    return max(2, int(round(np.log2(max(stride, 1)))) - 1)


def draw_assignment(image_bgr: np.ndarray, assignment: Assignment,
                    classes: Optional[Sequence[str]] = None,
                    scale: int = 1) -> np.ndarray:
    """Draw each GT (box and ``k=<dynamic k>``, plus ``(<n> kept)`` when
    step 4 left it fewer) and its positive priors (filled dots at the prior
    centres, larger for coarser levels) in one colour a GT; a GT without
    positives in red with ``unmatched``.

    Args:
        image_bgr (np.ndarray): ``[H, W, 3]`` uint8, the network input (the
            frame of the boxes and priors).
        assignment (Assignment): From :func:`simota_assignment`.
        classes (Sequence[str], optional): Class names for the labels.
        scale (int): Enlarge the image this many times first (nearest
            neighbour), for legible labels on small inputs.

    Returns:
        np.ndarray: a drawn copy, ``scale`` times the input size.

    Raises:
        ValueError: for ``scale`` < 1.
    """
    if scale < 1:
        raise ValueError(f'scale must be >= 1, got {scale}')
    img = np.ascontiguousarray(image_bgr).copy()
    if scale > 1:
        img = cv2.resize(img, None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_NEAREST)
    colors = gt_colors(len(assignment.gt_bboxes))
    for g, box in enumerate(assignment.gt_bboxes.tolist()):
        pos = assignment.positives(g)
        k = int(assignment.dynamic_ks[g])
        color = colors[g] if len(pos) else UNMATCHED_COLOR
        x1, y1, x2, y2 = (int(round(v * scale)) for v in box)
        cv2.rectangle(img, (x1, y1), (x2, y2), color, 1)
        for cx, cy, stride, _ in assignment.priors[pos].tolist():
            cv2.circle(img, (int(cx * scale), int(cy * scale)),
                       prior_radius(stride), color, -1)
        text = f'k={k}' if len(pos) == k else \
            (f'k={k} ({len(pos)} kept)' if len(pos) else 'unmatched')
        if classes is not None:
            text = f'{classes[int(assignment.gt_labels[g])]} {text}'
        cv2.putText(img, text, (x1, max(y1 - 3, 8)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
    return img


def assignment_summary(assignment: Assignment,
                       classes: Optional[Sequence[str]] = None) -> str:
    """One line a GT: index, class, box, candidates, dynamic k, kept."""
    lines = []
    for g, box in enumerate(assignment.gt_bboxes.tolist()):
        label = int(assignment.gt_labels[g])
        name = classes[label] if classes is not None else str(label)
        lines.append(
            f'GT {g} ({name}) [{", ".join(f"{v:.0f}" for v in box)}]: '
            f'{int(assignment.num_candidates[g])} candidates, '
            f'k={int(assignment.dynamic_ks[g])}, '
            f'{len(assignment.positives(g))} positives')
    return '\n'.join(lines)
