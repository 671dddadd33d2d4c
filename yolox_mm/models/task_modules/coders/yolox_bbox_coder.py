"""The YOLOX box coder: decoding, the L1 target, prior centres and the score
product, written once for the heads, the assigners and the exporters.

Paper section 2.1 ("Anchor-free": "we predict two offsets in terms of the
left-top corner of the grid, and the height and width of the predicted
box"); Megvii ``yolox/models/yolo_head.py`` ``decode_outputs`` (decoding)
and ``get_l1_target`` (its inverse).

Frame and units: boxes are ``xyxy`` in pixels of the (padded) network
input; the raw regression outputs ``(t_x, t_y, t_w, t_h)`` are in strides
of the prior's level (``t_xy`` from the grid point, ``t_wh`` in log). Priors
are rows ``(x, y, stride_w, stride_h)`` in pixels: the grid points ``grid *
stride`` of ``MlvlPointGenerator(strides, offset=0)``, **without** the half
stride offset (the frame of decoding). :func:`prior_centers` gives the cell
centres that SimOTA's centre prior measures from.
"""
from typing import Tuple

import torch
from mmdet.models.task_modules.coders import BaseBBoxCoder
from torch import Tensor

from yolox_mm.registry import TASK_UTILS


def decode_bboxes(priors: Tensor, bbox_preds: Tensor) -> Tensor:
    """Decode regression outputs into boxes.

    Args:
        priors (Tensor): ``[P, 4]`` ``(x, y, stride_w, stride_h)`` grid
            points, pixels, without offset.
        bbox_preds (Tensor): ``[..., P, 4]`` raw outputs ``(t_x, t_y, t_w,
            t_h)``, strides.

    Returns:
        Tensor: ``[..., P, 4]`` xyxy in pixels: centre ``t_xy * s + (x,
        y)``, size ``exp(t_wh) * s``.
    """
    strides = priors[:, 2:]
    ctr = bbox_preds[..., :2] * strides + priors[:, :2]
    half = bbox_preds[..., 2:].exp() * strides / 2
    return torch.cat([ctr - half, ctr + half], dim=-1)


def encode_l1_target(gt_bboxes: Tensor, priors: Tensor,
                     eps: float = 1e-8) -> Tensor:
    """Inverse of :func:`decode_bboxes`: the target of the L1 loss.

    Args:
        gt_bboxes (Tensor): ``[N, 4]`` xyxy, pixels.
        priors (Tensor): ``[N, 4]`` ``(x, y, stride_w, stride_h)`` without
            offset, one row per box.
        eps (float): Added inside the log (Megvii ``get_l1_target``).

    Returns:
        Tensor: ``[N, 4]`` ``((cx - x) / s, (cy - y) / s, log(w / s + eps),
        log(h / s + eps))``, strides.
    """
    ctr = (gt_bboxes[:, :2] + gt_bboxes[:, 2:]) / 2
    wh = gt_bboxes[:, 2:] - gt_bboxes[:, :2]
    strides = priors[:, 2:]
    return torch.cat([(ctr - priors[:, :2]) / strides,
                      torch.log(wh / strides + eps)], dim=1)


def prior_centers(priors: Tensor) -> Tensor:
    """``[P, 4]`` grid points -> ``[P, 4]`` ``(cx, cy, stride_w,
    stride_h)``: the cell centres ``(x + s_w / 2, y + s_h / 2)`` in pixels,
    as SimOTA's centre prior reads them (Megvii ``get_in_boxes_info``:
    ``(x_shifts + 0.5) * stride``)."""
    return torch.cat([priors[:, :2] + priors[:, 2:] * 0.5, priors[:, 2:]],
                     dim=1)


def score_product(cls_probs: Tensor, obj_probs: Tensor) -> Tensor:
    """Score of every (prior, class): ``sigmoid(cls) * sigmoid(obj)``.

    Args:
        cls_probs (Tensor): ``[..., P, C]`` class probabilities.
        obj_probs (Tensor): ``[..., P]`` objectness probabilities (times any
            other per-prior factor, e.g. an end-to-end head's selector).

    Returns:
        Tensor: ``[..., P, C]``.
    """
    return cls_probs * obj_probs[..., None]


def best_class_scores(cls_probs: Tensor,
                      obj_probs: Tensor) -> Tuple[Tensor, Tensor]:
    """Best class of each prior and its score ``max_c sigmoid(cls_c) *
    sigmoid(obj)`` (Megvii ``postprocess``): ``scores [..., P]``, ``labels
    [..., P]`` long. The scores equal the row maxima of
    :func:`score_product` exactly (a product with a positive factor is
    monotone in floating point), without its ``[..., P, C]`` tensor."""
    max_probs, labels = cls_probs.max(dim=-1)
    return max_probs * obj_probs, labels


@TASK_UTILS.register_module()
class YOLOXBBoxCoder(BaseBBoxCoder):
    """YOLOX box coder (module docstring: frame, units, source).

    ``decode(priors, bbox_preds)`` and ``encode(priors, gt_bboxes)`` follow
    mmdet's ``BaseBBoxCoder`` argument order (base boxes first).

    Args:
        eps (float): Added inside the log of :meth:`encode`. Defaults to
            1e-8 (Megvii).
    """

    def __init__(self, eps: float = 1e-8, **kwargs) -> None:
        super().__init__(**kwargs)
        self.eps = eps

    def encode(self, priors: Tensor, gt_bboxes: Tensor) -> Tensor:
        """L1 targets ``[N, 4]`` of ``gt_bboxes [N, 4]`` xyxy on ``priors
        [N, 4]`` (:func:`encode_l1_target`)."""
        return encode_l1_target(gt_bboxes, priors, self.eps)

    def decode(self, priors: Tensor, bbox_preds: Tensor) -> Tensor:
        """Boxes ``[..., P, 4]`` xyxy of ``bbox_preds [..., P, 4]`` on
        ``priors [P, 4]`` (:func:`decode_bboxes`)."""
        return decode_bboxes(priors, bbox_preds)

    prior_centers = staticmethod(prior_centers)
    score_product = staticmethod(score_product)
    best_class_scores = staticmethod(best_class_scores)
