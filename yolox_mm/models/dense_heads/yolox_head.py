"""YOLOX decoupled head (paper section 2.1 "Decoupled head",
"Anchor-free", "Multi positives", "SimOTA"; Megvii
``yolox/models/yolo_head.py``).

Notation: ``B`` images, ``P`` priors over all levels (one point per feature
location), ``C`` classes, ``G`` GT boxes of an image (padded to the largest
image of the batch). Boxes are ``xyxy`` in pixels of the padded network
input unless stated otherwise.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.task_modules.assigners import BaseAssigner
from mmdet.models.task_modules.prior_generators import MlvlPointGenerator
from mmdet.utils import reduce_mean
from mmengine.config import ConfigDict
from mmengine.model import bias_init_with_prob
from mmengine.structures import InstanceData
from torch import Tensor, nn

from yolox_mm.registry import MODELS, TASK_UTILS
from ..backbones.csp_darknet import KAIMING_INIT
from ..layers import conv_class
from ..layers.conv import DEFAULT_ACT_CFG, DEFAULT_NORM_CFG
from ..task_modules.assigners import BatchAssignResult
from ..task_modules.coders import (YOLOXBBoxCoder, best_class_scores,
                                   score_product)

__all__ = [
    'DecodedPredictions', 'YOLOXHead',
    'flatten_levels', 'image_metas', 'nms_detections', 'pad_gt_instances',
    'rescale_detections'
]


def flatten_levels(feats: Sequence[Tensor]) -> Tensor:
    """``[(B, K, H_l, W_l)] * L -> (B, P, K)`` with ``P = sum_l H_l W_l``,
    level by level, row-major within a level (the order of the priors)."""
    return torch.cat([f.flatten(2) for f in feats], dim=2).transpose(1, 2)


def pad_gt_instances(batch_gt_instances: Sequence[InstanceData],
                     device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
    """Stack per-image GTs into padded tensors.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``bboxes [B, G, 4]`` xyxy float,
        ``labels [B, G]`` long, ``valid [B, G]`` bool, with ``G`` the
        largest GT count of the batch (0 if no image has a GT).
    """
    num_imgs = len(batch_gt_instances)
    counts = [len(gt) for gt in batch_gt_instances]
    num_gts = max(counts, default=0)
    bboxes = torch.zeros((num_imgs, num_gts, 4), device=device)
    labels = torch.zeros((num_imgs, num_gts), dtype=torch.long, device=device)
    valid = torch.zeros((num_imgs, num_gts), dtype=torch.bool, device=device)
    for i, (gt, n) in enumerate(zip(batch_gt_instances, counts)):
        if n:
            bboxes[i, :n] = gt.bboxes.to(bboxes)
            labels[i, :n] = gt.labels
            valid[i, :n] = True
    return bboxes, labels, valid



def nms_detections(result: InstanceData, nms_cfg: ConfigDict,
                   max_per_img: int = -1) -> InstanceData:
    """Class-aware NMS of one image's candidates (mmcv ``batched_nms`` with
    ``nms_cfg``), then the ``max_per_img`` best (all if <= 0).

    Args:
        result (InstanceData): ``bboxes [N, 4]`` xyxy, ``scores [N]``,
            ``labels [N]``, any frame (NMS is done in it).
        nms_cfg (ConfigDict): e.g. ``dict(type='nms', iou_threshold=0.65)``.
        max_per_img (int): cap on the kept detections.

    Returns:
        InstanceData: the kept rows by decreasing score, with the scores
        ``batched_nms`` returns.
    """
    if not len(result):
        return result
    from mmcv.ops import batched_nms
    dets, keep = batched_nms(result.bboxes, result.scores, result.labels,
                             nms_cfg)
    result = result[keep]
    result.scores = dets[:, -1]
    return result[:max_per_img] if max_per_img > 0 else result

class DecodedPredictions(NamedTuple):
    """Decoded head outputs of a batch (:meth:`YOLOXHead.decode_predictions`).

    All boxes are xyxy in pixels of the network input; ``P`` priors over
    all levels in :func:`flatten_levels` order.

    Attributes:
        bboxes (Tensor): ``[B, P, 4]`` decoded boxes.
        scores (Tensor): ``[B, P]`` score of the best class of each prior,
            ``max_c sigmoid(cls_c) * obj_probs``.
        labels (Tensor): ``[B, P]`` long, that class.
        cls_probs (Tensor): ``[B, P, C]`` ``sigmoid(cls)``.
        obj_probs (Tensor): ``[B, P]`` ``sigmoid(obj)`` (times the
            selector's ``sigmoid(pss)`` for an end-to-end head).
    """
    bboxes: Tensor
    scores: Tensor
    labels: Tensor
    cls_probs: Tensor
    obj_probs: Tensor

    def class_scores(self) -> Tensor:
        """``[B, P, C]`` score of every (prior, class), ``cls_probs *
        obj_probs`` (what NMS-free selection ranks)."""
        return score_product(self.cls_probs, self.obj_probs)


def image_metas(batch_img_metas: Optional[Sequence[dict]], num_imgs: int,
                rescale: bool) -> List[Optional[dict]]:
    """The metas of :meth:`YOLOXHead.predict_by_feat`, one per image (None
    when not given: only ``rescale`` reads them).

    Raises:
        ValueError: if ``rescale`` and no metas, or not one per image.
    """
    if batch_img_metas is None:
        if rescale:
            raise ValueError('rescale=True needs batch_img_metas with a '
                             "'scale_factor' per image, got None")
        return [None] * num_imgs
    if len(batch_img_metas) != num_imgs:
        raise ValueError(f'expected {num_imgs} batch_img_metas (one per '
                         f'image), got {len(batch_img_metas)}')
    return list(batch_img_metas)


def rescale_detections(result: InstanceData, img_meta: dict) -> InstanceData:
    """Boxes from input pixels to original-image pixels: divided by
    ``img_meta['scale_factor']`` ``(w, h)``."""
    scale = result.bboxes.new_tensor(img_meta['scale_factor'])
    result.bboxes = result.bboxes / scale.repeat(2)
    return result


#: The paper's losses (section 2.1; Megvii ``get_losses``), mmdet configs.
LOSS_CLS = dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum',
                loss_weight=1.0)
LOSS_BBOX = dict(type='IoULoss', mode='square', eps=1e-16, reduction='sum',
                 loss_weight=5.0)
LOSS_OBJ = dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum',
                loss_weight=1.0)
LOSS_L1 = dict(type='L1Loss', reduction='sum', loss_weight=1.0)


@MODELS.register_module()
class YOLOXHead(BaseDenseHead):
    """YOLOX head: per level, two parallel branches on the neck output.

    ::

        x ─┬─ cls_convs (2 x 3x3) ── conv_cls (1x1, C)  -> cls logits
           └─ reg_convs (2 x 3x3) ─┬─ conv_reg (1x1, 4)  -> t_x, t_y, t_w, t_h
                                   └─ conv_obj (1x1, 1)  -> objectness logit

    Losses (paper section 2.1; Megvii ``YOLOXHead.get_losses``), all summed
    and divided by the number of positives (averaged over GPUs, mmdet's
    ``reduce_mean``, at least 1):

    * ``loss_cls``: BCE on positives, target ``one_hot(label) * IoU(pred,
      gt)`` (IoU-aware);
    * ``loss_bbox``: ``5 * (1 - IoU^2)`` on positives;
    * ``loss_obj``: BCE on all priors, target 1 for positives;
    * ``loss_l1`` (only when :attr:`use_l1`, set by :meth:`set_l1` in the
      last no-augmentation epochs): L1 between raw outputs and the coder's
      :meth:`~yolox_mm.models.task_modules.coders.YOLOXBBoxCoder.encode`.

    Decoding (boxes, scores) goes through :meth:`decode_predictions`, used
    by :meth:`predict_by_feat` and by the exporters of ``yolox_mm.deploy``.
    Module names match mmdet 3.x's ``YOLOXHead`` so its checkpoints load.

    Args:
        num_classes (int): Number of classes ``C``.
        in_channels (int): Channels of the neck outputs.
        feat_channels (int): Channels of the branch convs. Defaults to 256.
        stacked_convs (int): 3x3 convs per branch. Defaults to 2.
        strides (Sequence[int]): Level strides. Defaults to (8, 16, 32).
        use_depthwise (bool): Depthwise-separable 3x3 convs (nano).
        norm_cfg (dict), act_cfg (dict): As in the backbone.
        loss_cls, loss_bbox, loss_obj, loss_l1 (dict): mmdet loss configs;
            the defaults are the paper's (:data:`LOSS_CLS` ...).
        bbox_coder (dict, optional): A ``TASK_UTILS`` coder config.
            Defaults to :class:`YOLOXBBoxCoder` ``()``.
        train_cfg (dict): ``assigner`` config: an assigner with
            ``batch_assign_logits`` (our ``SimOTAAssigner``) or an mmdet
            ``BaseAssigner`` (called image by image, e.g. mmdet's
            ``SimOTAAssigner``).
        test_cfg (dict): ``score_thr``, ``nms`` (mmcv ``batched_nms``
            config) and optional ``max_per_img``.
        init_cfg (dict): Conv init; cls and obj biases are then set to
            ``-log((1 - 0.01) / 0.01)`` (prior probability 0.01).

    Raises:
        ValueError: for ``num_classes`` or ``stacked_convs`` < 1.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 feat_channels: int = 256,
                 stacked_convs: int = 2,
                 strides: Sequence[int] = (8, 16, 32),
                 use_depthwise: bool = False,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: dict = DEFAULT_ACT_CFG,
                 loss_cls: dict = LOSS_CLS,
                 loss_bbox: dict = LOSS_BBOX,
                 loss_obj: dict = LOSS_OBJ,
                 loss_l1: dict = LOSS_L1,
                 bbox_coder: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = KAIMING_INIT) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1 or stacked_convs < 1:
            raise ValueError('num_classes and stacked_convs must be >= 1, '
                             f'got {num_classes} and {stacked_convs}')
        self.num_classes = num_classes
        self.cls_out_channels = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.strides = tuple(strides)
        self.use_depthwise = use_depthwise
        self.use_sigmoid_cls = True
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_bbox = MODELS.build(loss_bbox)
        self.loss_obj = MODELS.build(loss_obj)
        self.loss_l1 = MODELS.build(loss_l1)
        #: Whether the L1 loss is added (:meth:`set_l1`).
        self.use_l1 = False
        self.bbox_coder = YOLOXBBoxCoder() if bbox_coder is None else \
            TASK_UTILS.build(bbox_coder)
        self.prior_generator = MlvlPointGenerator(self.strides, offset=0)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if train_cfg:
            self.assigner = TASK_UTILS.build(train_cfg['assigner'])
        self._init_layers(norm_cfg, act_cfg)

    def _init_layers(self, norm_cfg: dict, act_cfg: dict) -> None:
        """The per-level branches (mmdet's module names)."""
        conv = conv_class(self.use_depthwise)
        cfgs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)

        def branch() -> nn.Sequential:
            return nn.Sequential(*[
                conv(self.in_channels if i == 0 else self.feat_channels,
                     self.feat_channels, 3, **cfgs)
                for i in range(self.stacked_convs)
            ])

        def conv1x1(out_channels: int) -> nn.ModuleList:
            return nn.ModuleList(
                nn.Conv2d(self.feat_channels, out_channels, 1)
                for _ in self.strides)

        self.multi_level_cls_convs = nn.ModuleList(
            branch() for _ in self.strides)
        self.multi_level_reg_convs = nn.ModuleList(
            branch() for _ in self.strides)
        self.multi_level_conv_cls = conv1x1(self.num_classes)
        self.multi_level_conv_reg = conv1x1(4)
        self.multi_level_conv_obj = conv1x1(1)

    def init_weights(self) -> None:
        super().init_weights()
        bias = bias_init_with_prob(0.01)
        for conv_cls, conv_obj in zip(self.multi_level_conv_cls,
                                      self.multi_level_conv_obj):
            nn.init.constant_(conv_cls.bias, bias)
            nn.init.constant_(conv_obj.bias, bias)

    def set_l1(self, enabled: bool) -> None:
        """Add (or stop adding) the L1 loss to :meth:`loss_by_feat`: YOLOX
        trains its last no-augmentation epochs with it (paper section 2.1,
        "Strong data augmentation"); ``YOLOXModeSwitchHook`` calls this."""
        self.use_l1 = bool(enabled)

    def forward(self, x: Sequence[Tensor]) -> Tuple[List[Tensor], ...]:
        """Args: ``x``, one ``(B, in_channels, H_l, W_l)`` map per level.

        Returns:
            tuple[list[Tensor], list[Tensor], list[Tensor]]: per level,
            ``cls_scores (B, C, H_l, W_l)``, ``bbox_preds (B, 4, H_l, W_l)``
            and ``objectnesses (B, 1, H_l, W_l)``, all raw logits/deltas.
        """
        if len(x) != len(self.strides):
            raise ValueError(f'YOLOXHead expects {len(self.strides)} feature '
                             f'maps (strides {self.strides}), got {len(x)}')
        cls_scores, bbox_preds, objectnesses = [], [], []
        for feat, cls_convs, reg_convs, conv_cls, conv_reg, conv_obj in zip(
                x, self.multi_level_cls_convs, self.multi_level_reg_convs,
                self.multi_level_conv_cls, self.multi_level_conv_reg,
                self.multi_level_conv_obj):
            reg_feat = reg_convs(feat)
            cls_scores.append(conv_cls(cls_convs(feat)))
            bbox_preds.append(conv_reg(reg_feat))
            objectnesses.append(conv_obj(reg_feat))
        return cls_scores, bbox_preds, objectnesses

    def flat_priors(self, cls_scores: Sequence[Tensor]) -> Tensor:
        """Grid priors of all levels for the feature maps of ``cls_scores``
        (their sizes, dtype and device).

        Returns:
            Tensor: ``[P, 4]`` ``(x, y, stride_w, stride_h)`` in input
            pixels, grid points without the 0.5 offset (the frame of
            :meth:`YOLOXBBoxCoder.decode`), in :func:`flatten_levels` order.
        """
        featmap_sizes = [s.shape[2:] for s in cls_scores]
        return torch.cat(self.prior_generator.grid_priors(
            featmap_sizes, dtype=cls_scores[0].dtype,
            device=cls_scores[0].device, with_stride=True))

    def decode_predictions(self, cls_scores: Sequence[Tensor],
                           bbox_preds: Sequence[Tensor],
                           objectnesses: Sequence[Tensor]
                           ) -> DecodedPredictions:
        """Boxes and scores of every prior (no threshold, no NMS): the one
        decoding path of inference and export (Megvii ``decode_outputs``
        and ``postprocess``).

        Args:
            cls_scores, bbox_preds, objectnesses (list[Tensor]): Outputs of
                :meth:`forward`, per level ``[B, C | 4 | 1, H_l, W_l]``.

        Returns:
            DecodedPredictions: ``bboxes [B, P, 4]`` xyxy input pixels,
            ``scores [B, P]``, ``labels [B, P]``, ``cls_probs [B, P, C]``,
            ``obj_probs [B, P]``.
        """
        obj_probs = flatten_levels(objectnesses)[..., 0].sigmoid()
        return self._decode(cls_scores, bbox_preds, obj_probs)

    def _decode(self, cls_scores: Sequence[Tensor],
                bbox_preds: Sequence[Tensor],
                obj_probs: Tensor) -> DecodedPredictions:
        """:meth:`decode_predictions` with the per-prior probability
        ``obj_probs [B, P]`` given."""
        bboxes = self.bbox_coder.decode(self.flat_priors(cls_scores),
                                        flatten_levels(bbox_preds))
        cls_probs = flatten_levels(cls_scores).sigmoid()
        scores, labels = best_class_scores(cls_probs, obj_probs)
        return DecodedPredictions(bboxes, scores, labels, cls_probs,
                                  obj_probs)

    # ------------------------------------------------------------------ loss
    def loss_by_feat(
            self,
            cls_scores: Sequence[Tensor],
            bbox_preds: Sequence[Tensor],
            objectnesses: Sequence[Tensor],
            batch_gt_instances: Sequence[InstanceData],
            batch_img_metas: Sequence[dict],
            batch_gt_instances_ignore: Optional[Sequence[InstanceData]] = None
    ) -> dict:
        """Losses of a batch.

        Steps: flatten levels -> decode boxes -> SimOTA for the whole batch
        -> targets of the positives -> losses normalised by the number of
        positives.

        Args:
            cls_scores, bbox_preds, objectnesses (list[Tensor]): Outputs of
                :meth:`forward`.
            batch_gt_instances (list[InstanceData]): Per image ``bboxes [G_i,
                4]`` xyxy (input pixels) and ``labels [G_i]``.
            batch_img_metas (list[dict]): Unused; mmdet interface.
            batch_gt_instances_ignore: Unused (as in all references).

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``, ``loss_obj`` and,
            when :attr:`use_l1`, ``loss_l1``. Without any positive in the
            batch, cls/bbox/L1 are 0 but stay in the graph (mmdet #7298).
        """
        priors = self.flat_priors(cls_scores)  # [P, 4]
        cls_preds = flatten_levels(cls_scores)  # [B, P, C]
        reg_preds = flatten_levels(bbox_preds)  # [B, P, 4]
        obj_preds = flatten_levels(objectnesses)[..., 0]  # [B, P]
        pred_bboxes = self.bbox_coder.decode(priors, reg_preds)  # [B, P, 4]

        gt_bboxes, gt_labels, gt_valid = pad_gt_instances(
            batch_gt_instances, cls_preds.device)
        assign = self._assign(priors, cls_preds.detach(),
                              pred_bboxes.detach(), obj_preds.detach(),
                              gt_bboxes, gt_labels, gt_valid)

        fg_mask = assign.fg_mask.view(-1)
        # positives per GPU, averaged over the GPUs, at least 1
        avg_num_pos = max(reduce_mean(fg_mask.sum().float()), 1.0)
        loss_obj = self.loss_obj(
            obj_preds.reshape(-1, 1),
            fg_mask.to(obj_preds.dtype)[:, None]) / avg_num_pos
        loss_cls, loss_bbox, loss_l1 = self._positive_losses(
            priors, cls_preds, reg_preds, pred_bboxes, assign, gt_bboxes,
            gt_labels, avg_num_pos)
        losses = dict(loss_cls=loss_cls, loss_bbox=loss_bbox,
                      loss_obj=loss_obj)
        if loss_l1 is not None:
            losses['loss_l1'] = loss_l1
        return losses

    def _positive_losses(
            self, priors: Tensor, cls_preds: Tensor, reg_preds: Tensor,
            pred_bboxes: Tensor, assign: BatchAssignResult,
            gt_bboxes: Tensor, gt_labels: Tensor, avg_num_pos: Tensor
    ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """``loss_cls``, ``loss_bbox`` and (when :attr:`use_l1`, else None)
        ``loss_l1`` of the positives of ``assign``, each divided by
        ``avg_num_pos``; without positives 0, kept in the graph.

        Shapes as in :meth:`loss_by_feat`: ``priors [P, 4]``, ``cls_preds
        [B, P, C]``, ``reg_preds``/``pred_bboxes [B, P, 4]``, padded GTs
        ``[B, G, 4]`` xyxy and ``[B, G]``.
        """
        pos_img, pos_prior = assign.fg_mask.nonzero(as_tuple=True)
        if not pos_img.numel():
            return (cls_preds.sum() * 0, pred_bboxes.sum() * 0,
                    reg_preds.sum() * 0 if self.use_l1 else None)
        pos_gt = assign.gt_inds[pos_img, pos_prior]
        pos_gt_bboxes = gt_bboxes[pos_img, pos_gt]
        cls_targets = F.one_hot(gt_labels[pos_img, pos_gt],
                                self.num_classes).to(cls_preds.dtype)
        cls_targets = cls_targets * assign.ious[pos_img, pos_prior, None]
        loss_cls = self.loss_cls(cls_preds[pos_img, pos_prior],
                                 cls_targets) / avg_num_pos
        loss_bbox = self.loss_bbox(pred_bboxes[pos_img, pos_prior],
                                   pos_gt_bboxes) / avg_num_pos
        loss_l1 = None
        if self.use_l1:
            l1_targets = self.bbox_coder.encode(priors[pos_prior],
                                                pos_gt_bboxes)
            loss_l1 = self.loss_l1(reg_preds[pos_img, pos_prior],
                                   l1_targets) / avg_num_pos
        return loss_cls, loss_bbox, loss_l1

    @torch.no_grad()
    def _assign(self, priors: Tensor, cls_preds: Tensor, pred_bboxes: Tensor,
                obj_preds: Tensor, gt_bboxes: Tensor, gt_labels: Tensor,
                gt_valid: Tensor) -> BatchAssignResult:
        """Run the assigner on the batch (inputs detached, no graph).

        The assigner sees the prior centres
        (:meth:`YOLOXBBoxCoder.prior_centers`). An assigner with
        ``batch_assign_logits`` (our SimOTA) receives the logits and
        computes the scores ``sqrt(sigmoid(cls) * sigmoid(obj))`` only
        where it reads them. An mmdet ``BaseAssigner`` (e.g. mmdet's
        ``SimOTAAssigner``) is called image by image on those scores.

        Raises:
            TypeError: for any other assigner.
        """
        centers = self.bbox_coder.prior_centers(priors)
        if hasattr(self.assigner, 'batch_assign_logits'):
            return self.assigner.batch_assign_logits(
                centers, pred_bboxes, cls_preds, obj_preds, gt_bboxes,
                gt_labels, gt_valid)
        if not isinstance(self.assigner, BaseAssigner):
            raise TypeError(
                'YOLOXHead needs an assigner with batch_assign_logits '
                "(yolox_mm's SimOTAAssigner) or an mmdet BaseAssigner, but "
                f'received {type(self.assigner)}')
        scores = score_product(cls_preds.float().sigmoid(),
                               obj_preds.float().sigmoid()).sqrt_()
        per_image = []
        for i in range(scores.shape[0]):
            n = int(gt_valid[i].sum())
            result = self.assigner.assign(
                InstanceData(priors=centers, bboxes=pred_bboxes[i],
                             scores=scores[i]),
                InstanceData(bboxes=gt_bboxes[i, :n], labels=gt_labels[i, :n]))
            fg = result.gt_inds > 0
            per_image.append(((fg, (result.gt_inds - 1).clamp(min=0),
                               torch.where(fg, result.max_overlaps, 0))))
        return BatchAssignResult(*(torch.stack(t) for t in zip(*per_image)))

    # --------------------------------------------------------------- predict
    def predict_by_feat(self,
                        cls_scores: Sequence[Tensor],
                        bbox_preds: Sequence[Tensor],
                        objectnesses: Sequence[Tensor],
                        batch_img_metas: Optional[Sequence[dict]] = None,
                        cfg: Optional[ConfigDict] = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> List[InstanceData]:
        """Detections of a batch (Megvii ``postprocess``).

        Score of a prior = ``max_c sigmoid(cls_c) * sigmoid(obj)``
        (:meth:`decode_predictions`); priors with score >= ``score_thr`` go
        through class-aware NMS (mmcv ``batched_nms`` with ``cfg.nms``),
        optionally capped to ``max_per_img``.

        Args:
            cls_scores, bbox_preds, objectnesses (list[Tensor]): Outputs of
                :meth:`forward`.
            batch_img_metas (list[dict], optional): One per image; read
                only when ``rescale`` (``scale_factor`` (w, h)).
            cfg (ConfigDict, optional): Defaults to ``self.test_cfg``.
            rescale (bool): Divide boxes by ``scale_factor`` to get
                original-image pixels. Defaults to False (input pixels).
            with_nms (bool): Defaults to True.

        Returns:
            list[InstanceData]: per image ``bboxes [K, 4]`` xyxy, ``scores
            [K]`` and ``labels [K]``, by decreasing score.

        Raises:
            ValueError: if ``rescale`` without ``batch_img_metas``, or not
                one meta per image.
        """
        cfg = self.test_cfg if cfg is None else cfg
        decoded = self.decode_predictions(cls_scores, bbox_preds,
                                          objectnesses)
        metas = image_metas(batch_img_metas, decoded.scores.shape[0], rescale)
        results = []
        for i, img_meta in enumerate(metas):
            keep = decoded.scores[i] >= cfg.score_thr
            result = InstanceData(bboxes=decoded.bboxes[i][keep],
                                  scores=decoded.scores[i][keep],
                                  labels=decoded.labels[i][keep])
            if rescale:
                result = rescale_detections(result, img_meta)
            if with_nms:
                result = nms_detections(result, cfg.nms,
                                        cfg.get('max_per_img', -1))
            results.append(result)
        return results
