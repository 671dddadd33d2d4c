"""End-to-end (NMS-free) YOLOX head (paper section 2.1 "End-to-end YOLO",
Tables 1-2: "we follow [PSS] to add two additional conv layers, one-to-one
label assignment, and stop gradient"; PSS = Zhou et al., arXiv 2101.11782).

Megvii never released this variant (its issues #300, #479); the design is
ours, from the paper, PSS's abstract and the parameter delta of Table 2
(docs/end_to_end.md): per level, a positive-sample
selector (PSS) of two 3x3 conv blocks at ``feat_channels`` and a 1x1 conv
to one logit, on the **detached** regression features. At DarkNet53 width
(256 channels, 3 levels) that is 3 x (2 x (256 * 256 * 9 + 2 * 256) + 257)
= 3,542,787 parameters, Table 2's 63.72 M -> 67.27 M.

Notation as :mod:`.yolox_head` (``B`` images, ``P`` priors, ``C`` classes,
``G`` padded GTs; boxes xyxy in input pixels).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.utils import reduce_mean
from mmengine.config import ConfigDict
from mmengine.model import bias_init_with_prob
from mmengine.structures import InstanceData
from torch import Tensor, nn

from yolox_mm.registry import MODELS, TASK_UTILS
from ..layers import conv_class
from ..layers.conv import DEFAULT_ACT_CFG, DEFAULT_NORM_CFG
from .yolox_head import (DecodedPredictions, YOLOXHead, flatten_levels,
                         image_metas, nms_detections, pad_gt_instances,
                         rescale_detections)

#: Keys of the selector's parameters in a detector's state_dict (the only
#: keys a YOLOXHead checkpoint lacks).
PSS_KEYS = ('bbox_head.multi_level_pss_convs',
            'bbox_head.multi_level_conv_pss')


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25,
                       gamma: float = 2.0) -> Tensor:
    """Summed sigmoid focal loss (Lin et al. 2017, arXiv 1708.02002, eq. 5):
    ``alpha_t * (1 - p_t)^gamma * BCE(sigmoid(logits), targets)``, with
    ``p_t = p`` where the target is 1, ``1 - p`` where 0, ``alpha_t =
    alpha`` / ``1 - alpha``. Any shape; float32."""
    prob = logits.sigmoid()
    bce = F.binary_cross_entropy_with_logits(logits, targets,
                                             reduction='none')
    p_t = prob * targets + (1 - prob) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * (1 - p_t).pow(gamma) * bce).sum()


def topk_detections(scores: Tensor, bboxes: Tensor, score_thr: float,
                    max_per_img: int) -> Tuple[Tensor, Tensor, Tensor]:
    """NMS-free selection of one image: the ``max_per_img`` best (prior,
    class) pairs with score ``>= score_thr``.

    Args:
        scores (Tensor): ``[P, C]``; bboxes ``[P, 4]`` xyxy.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``bboxes [K, 4]``, ``scores [K]``,
        ``labels [K]`` by decreasing score (a prior may appear with
        several classes, as in PSS / YOLOv10 post-processing).
    """
    num_classes = scores.shape[1]
    flat = scores.reshape(-1)
    k = min(max_per_img, flat.numel()) if max_per_img > 0 else flat.numel()
    top_scores, top_idx = flat.topk(k)
    keep = top_scores >= score_thr
    top_scores, top_idx = top_scores[keep], top_idx[keep]
    return (bboxes[top_idx // num_classes], top_scores,
            top_idx % num_classes)


@MODELS.register_module()
class YOLOXPSSHead(YOLOXHead):
    """YOLOX head with a positive-sample selector: NMS-free inference.

    ::

        x ─┬─ cls_convs ── conv_cls                     -> cls logits
           └─ reg_convs ─┬─ conv_reg / conv_obj         -> boxes, objectness
                         └─ detach ── pss_convs (2 x 3x3) ── conv_pss (1x1)
                                                        -> selector logit

    Training: the YOLOX losses of :class:`YOLOXHead` (SimOTA one-to-many)
    unchanged, plus ``loss_pss``: per (prior, class) binary cross-entropy
    of ``q = sigmoid(cls) * sigmoid(obj)`` (both **detached**) ``*
    sigmoid(pss)`` against the one-to-one target (1 at the GT's label on
    the prior that :class:`~yolox_mm.models.task_modules.assigners.
    OneToOneAssigner` gives the GT, with SimOTA's cost; 0 elsewhere),
    summed and divided by the number of GTs (averaged over GPUs, at least
    1), times ``loss_pss_weight``. Stop gradient both ways: the selector
    reads ``reg_feat.detach()`` and the detached scores, so ``loss_pss``
    reaches only the selector, and no other loss reaches the selector.

    Inference (:meth:`predict_by_feat`): score ``sigmoid(cls) *
    (sigmoid(obj) * sigmoid(pss))`` of every (prior, class)
    (:meth:`decode_predictions`, as the exported graphs); with
    ``test_cfg.nms_free`` (the default, True): the ``max_per_img`` best
    pairs with score ``>= score_thr``, **no NMS** (``test_cfg.nms`` is
    ignored). With ``nms_free=False`` (for comparison): YOLOX's per-prior
    best class and class-aware NMS (``test_cfg.nms``) on the same scores.
    ``test_cfg.use_pss=False`` drops the selector factor, to evaluate the
    one-to-many YOLOX inside (e.g. a base checkpoint without NMS).

    Checkpoints of :class:`YOLOXHead` (ours, mmdet's, converted Megvii ones)
    load with ``strict=False``: only the selector keys (:data:`PSS_KEYS`)
    are new, so the selector can be trained alone on a trained model
    (``FreezeExceptHook``).

    Args:
        pss_stacked_convs (int): 3x3 conv blocks of the selector. Defaults
            to 2 (the paper's "two additional conv layers").
        pss_bias_prior (float): Initial ``sigmoid`` of the selector logit.
            Defaults to 0.5 (bias 0: at the start the selector halves every
            score; a trained selector lifts the one-to-one prior).
        loss_pss_weight (float): Weight of ``loss_pss``. Defaults to 1.0.
        loss_pss_mode (str): ``'product'`` (default, PSS's: BCE of the
            product ``q`` per (prior, class), above) or ``'logit'``
            (E2E_FCOS's: sigmoid focal loss, alpha 0.25, gamma 2, of the
            selector logit alone per prior, target 1 on the one-to-one
            priors; summed, / number of GTs).
        train_cfg (dict): ``assigner`` (SimOTA, one-to-many) and
            ``one_to_one_assigner`` (defaults to ``OneToOneAssigner`` with
            the SimOTA assigner's ``center_radius``).
        test_cfg (dict): ``score_thr``, ``max_per_img`` (default 100),
            ``nms_free`` (default True), ``nms`` (used only when
            ``nms_free`` is False) and ``use_pss`` (default True).
        Others: as :class:`YOLOXHead`.
    """

    def __init__(self,
                 *args,
                 pss_stacked_convs: int = 2,
                 pss_bias_prior: float = 0.5,
                 loss_pss_weight: float = 1.0,
                 loss_pss_mode: str = 'product',
                 train_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, train_cfg=train_cfg, **kwargs)
        if pss_stacked_convs < 1:
            raise ValueError('pss_stacked_convs must be >= 1, got '
                             f'{pss_stacked_convs}')
        if loss_pss_mode not in ('product', 'logit'):
            raise ValueError("loss_pss_mode must be 'product' or 'logit', "
                             f'got {loss_pss_mode!r}')
        self.loss_pss_mode = loss_pss_mode
        self.pss_bias_prior = pss_bias_prior
        self.loss_pss_weight = loss_pss_weight
        if train_cfg:
            o2o = train_cfg.get('one_to_one_assigner')
            if o2o is None:
                o2o = dict(type='OneToOneAssigner', center_radius=getattr(
                    self.assigner, 'center_radius', 2.5))
            self.one_to_one_assigner = TASK_UTILS.build(o2o)
        conv = conv_class(self.use_depthwise)
        cfgs = dict(norm_cfg=kwargs.get('norm_cfg', DEFAULT_NORM_CFG),
                    act_cfg=kwargs.get('act_cfg', DEFAULT_ACT_CFG))
        feat = self.feat_channels
        self.multi_level_pss_convs = nn.ModuleList(
            nn.Sequential(*[conv(feat, feat, 3, **cfgs)
                            for _ in range(pss_stacked_convs)])
            for _ in self.strides)
        self.multi_level_conv_pss = nn.ModuleList(
            nn.Conv2d(feat, 1, 1) for _ in self.strides)

    def init_weights(self) -> None:
        super().init_weights()
        for conv_pss in self.multi_level_conv_pss:
            nn.init.constant_(conv_pss.bias,
                              bias_init_with_prob(self.pss_bias_prior))

    def forward(self, x: Sequence[Tensor]) -> Tuple[List[Tensor], ...]:
        """Args: ``x``, one ``(B, in_channels, H_l, W_l)`` map per level.

        Returns:
            tuple[list[Tensor], ...]: per level ``cls_scores (B, C, H_l,
            W_l)``, ``bbox_preds (B, 4, H_l, W_l)``, ``objectnesses (B, 1,
            H_l, W_l)`` and ``pss_logits (B, 1, H_l, W_l)``, raw.
        """
        if len(x) != len(self.strides):
            raise ValueError(f'YOLOXPSSHead expects {len(self.strides)} '
                             f'feature maps (strides {self.strides}), got '
                             f'{len(x)}')
        outs = ([], [], [], [])
        for level, feat in enumerate(x):
            reg_feat = self.multi_level_reg_convs[level](feat)
            cls_feat = self.multi_level_cls_convs[level](feat)
            pss_feat = self.multi_level_pss_convs[level](reg_feat.detach())
            outs[0].append(self.multi_level_conv_cls[level](cls_feat))
            outs[1].append(self.multi_level_conv_reg[level](reg_feat))
            outs[2].append(self.multi_level_conv_obj[level](reg_feat))
            outs[3].append(self.multi_level_conv_pss[level](pss_feat))
        return outs

    # ------------------------------------------------------------------ loss
    def loss_by_feat(
            self,
            cls_scores: Sequence[Tensor],
            bbox_preds: Sequence[Tensor],
            objectnesses: Sequence[Tensor],
            pss_logits: Sequence[Tensor],
            batch_gt_instances: Sequence[InstanceData],
            batch_img_metas: Sequence[dict],
            batch_gt_instances_ignore: Optional[Sequence[InstanceData]] = None
    ) -> dict:
        """YOLOX's losses (:meth:`YOLOXHead.loss_by_feat`) plus
        ``loss_pss`` (class docstring).

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``, ``loss_obj``,
            (``loss_l1``) and ``loss_pss``.
        """
        losses = super().loss_by_feat(cls_scores, bbox_preds, objectnesses,
                                      batch_gt_instances, batch_img_metas,
                                      batch_gt_instances_ignore)
        losses['loss_pss'] = self.loss_pss_by_feat(
            cls_scores, bbox_preds, objectnesses, pss_logits,
            batch_gt_instances)
        return losses

    def one_to_one_targets(self, priors: Tensor, cls_preds: Tensor,
                           pred_bboxes: Tensor, obj_preds: Tensor,
                           batch_gt_instances: Sequence[InstanceData]
                           ) -> Tuple[Tensor, int]:
        """``[B, P, C]`` 0/1 targets of the selector (1 at the label of
        each GT on its one-to-one prior) and the number of matched GTs.
        Inputs as in :meth:`YOLOXHead._assign` (detached)."""
        gt_bboxes, gt_labels, gt_valid = pad_gt_instances(
            batch_gt_instances, cls_preds.device)
        assign = self.one_to_one_assigner.batch_assign_logits(
            self.bbox_coder.prior_centers(priors), pred_bboxes, cls_preds,
            obj_preds, gt_bboxes, gt_labels, gt_valid)
        targets = torch.zeros_like(cls_preds, dtype=torch.float32)
        img_idx, prior_idx = assign.fg_mask.nonzero(as_tuple=True)
        labels = gt_labels[img_idx, assign.gt_inds[img_idx, prior_idx]]
        targets[img_idx, prior_idx, labels] = 1.0
        return targets, int(img_idx.numel())

    def loss_pss_by_feat(self, cls_scores: Sequence[Tensor],
                         bbox_preds: Sequence[Tensor],
                         objectnesses: Sequence[Tensor],
                         pss_logits: Sequence[Tensor],
                         batch_gt_instances: Sequence[InstanceData]
                         ) -> Tensor:
        """The selector's loss: BCE of ``q = sigmoid(cls).detach() *
        sigmoid(obj).detach() * sigmoid(pss)`` vs the one-to-one targets,
        computed in log space in float32 (``log q`` as a sum of
        log-sigmoids; ``log(1 - q)`` clamped at -100 as
        ``F.binary_cross_entropy``), summed, / number of GTs."""
        priors = self.flat_priors(cls_scores)
        cls_preds = flatten_levels(cls_scores).detach().float()
        obj_preds = flatten_levels(objectnesses)[..., 0].detach().float()
        pss = flatten_levels(pss_logits)[..., 0].float()  # [B, P]
        pred_bboxes = self.bbox_coder.decode(
            priors, flatten_levels(bbox_preds).detach()).float()
        targets, num_gts = self.one_to_one_targets(
            priors, cls_preds, pred_bboxes, obj_preds, batch_gt_instances)
        # matched GTs per GPU, averaged over the GPUs, at least 1
        avg_num_gts = max(reduce_mean(
            torch.tensor(float(num_gts), device=pss.device)), 1.0)
        if self.loss_pss_mode == 'logit':
            target = targets.amax(dim=2)  # [B, P]: the one-to-one priors
            loss = sigmoid_focal_loss(pss, target, alpha=0.25, gamma=2.0)
            return self.loss_pss_weight * loss / avg_num_gts
        log_q = (F.logsigmoid(cls_preds) + F.logsigmoid(obj_preds)[..., None]
                 + F.logsigmoid(pss)[..., None])
        log_1mq = torch.log1p(-log_q.exp()).clamp(min=-100.0)
        bce = -(targets * log_q.clamp(min=-100.0) +
                (1.0 - targets) * log_1mq)
        return self.loss_pss_weight * bce.sum() / avg_num_gts

    # --------------------------------------------------------------- predict
    def decode_predictions(self,
                           cls_scores: Sequence[Tensor],
                           bbox_preds: Sequence[Tensor],
                           objectnesses: Sequence[Tensor],
                           pss_logits: Optional[Sequence[Tensor]] = None
                           ) -> DecodedPredictions:
        """:meth:`YOLOXHead.decode_predictions` with the selector: with
        ``pss_logits`` (per level ``[B, 1, H_l, W_l]``), ``obj_probs`` is
        ``sigmoid(obj) * sigmoid(pss)``, so ``class_scores()`` is the
        end-to-end score of every (prior, class); without, YOLOX's."""
        obj_probs = flatten_levels(objectnesses)[..., 0].sigmoid()
        if pss_logits is not None:
            pss_probs = flatten_levels(pss_logits)[..., 0].sigmoid()
            obj_probs = obj_probs * pss_probs
        return self._decode(cls_scores, bbox_preds, obj_probs)

    def predict_by_feat(self,
                        cls_scores: Sequence[Tensor],
                        bbox_preds: Sequence[Tensor],
                        objectnesses: Sequence[Tensor],
                        pss_logits: Optional[Sequence[Tensor]] = None,
                        batch_img_metas: Optional[Sequence[dict]] = None,
                        cfg: Optional[ConfigDict] = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> List[InstanceData]:
        """Detections of a batch (class docstring); NMS only when
        ``cfg.nms_free`` is False, ``cfg.nms`` is set and ``with_nms``.

        Args:
            cls_scores, bbox_preds, objectnesses, pss_logits (list[Tensor]):
                Outputs of :meth:`forward`.
            batch_img_metas (list[dict], optional): One per image; read
                only when ``rescale`` (``scale_factor`` (w, h)).
            cfg (ConfigDict, optional): Defaults to ``self.test_cfg``.
            rescale (bool): Boxes in original-image pixels.

        Returns:
            list[InstanceData]: per image ``bboxes [K, 4]`` xyxy,
            ``scores [K]``, ``labels [K]``, by decreasing score.

        Raises:
            ValueError: if ``rescale`` without ``batch_img_metas``, or not
                one meta per image.
        """
        cfg = self.test_cfg if cfg is None else cfg
        use_pss = cfg.get('use_pss', True) and pss_logits is not None
        decoded = self.decode_predictions(cls_scores, bbox_preds,
                                          objectnesses,
                                          pss_logits if use_pss else None)
        nms_cfg = None
        if with_nms and not cfg.get('nms_free', True):
            nms_cfg = cfg.get('nms')
        max_per_img = cfg.get('max_per_img', 100)
        metas = image_metas(batch_img_metas, decoded.scores.shape[0], rescale)
        scores = None if nms_cfg else decoded.class_scores()
        results = []
        for i, img_meta in enumerate(metas):
            if nms_cfg:
                result = self._nms_detections(decoded, i, cfg)
            else:
                boxes, top_scores, labels = topk_detections(
                    scores[i], decoded.bboxes[i], cfg.score_thr, max_per_img)
                result = InstanceData(bboxes=boxes, scores=top_scores,
                                      labels=labels)
            if rescale:
                result = rescale_detections(result, img_meta)
            results.append(result)
        return results

    @staticmethod
    def _nms_detections(decoded: DecodedPredictions, img: int,
                        cfg: ConfigDict) -> InstanceData:
        """YOLOX's post-processing of image ``img`` (best class per prior,
        ``score_thr``, :func:`~.yolox_head.nms_detections`), for comparison
        with the NMS-free output."""
        keep = decoded.scores[img] >= cfg.score_thr
        result = InstanceData(bboxes=decoded.bboxes[img][keep],
                              scores=decoded.scores[img][keep],
                              labels=decoded.labels[img][keep])
        return nms_detections(result, cfg.nms, cfg.get('max_per_img', -1))
