"""mmdeploy 1.3.1 rewriters of yolox_mm's classes (imports mmdeploy).

mmdeploy patches functions by qualified name, so its rewriters for mmdet's
``YOLOXHead.predict_by_feat`` and ``Focus.forward`` do not reach ours.
Our ``YOLOX`` inherits ``SingleStageDetector.forward`` without overriding
it, so mmdeploy's detector rewriter applies as it is: it calls
``bbox_head.predict(feats, data_samples, rescale=False)``, which calls the
head rewriter below, and names the outputs ``dets`` and ``labels``.

Importing this module registers the rewriters (mmdeploy's deploy config
``codebase_config.module``, or
:func:`yolox_mm.deploy.register_mmdeploy_rewriters`). Every rewriter,
:func:`torch_onnx__export` included, is active only inside mmdeploy's
``RewriterContext`` (its export), never elsewhere in the process.
"""
import inspect
from typing import List, Optional, Tuple

import torch
from mmdeploy.codebase.mmdet.deploy import get_post_processing_params
from mmdeploy.core import FUNCTION_REWRITER
from mmdeploy.mmcv.ops import multiclass_nms
from mmengine.config import ConfigDict
from torch import Tensor

from .onnx_export import end2end_topk

HEAD_PREDICT = ('yolox_mm.models.dense_heads.yolox_head.YOLOXHead.'
                'predict_by_feat')
FOCUS_FORWARD = 'yolox_mm.models.backbones.csp_darknet.Focus.forward'
PSS_HEAD_PREDICT = ('yolox_mm.models.dense_heads.yolox_pss_head.'
                    'YOLOXPSSHead.predict_by_feat')
ONNX_EXPORT = 'torch.onnx.export'
#: Whether this torch's ``torch.onnx.export`` has ``dynamo`` (True by default
#: since torch 2.9).
_EXPORT_HAS_DYNAMO = 'dynamo' in inspect.signature(
    torch.onnx.export).parameters


@FUNCTION_REWRITER.register_rewriter(func_name=ONNX_EXPORT)
def torch_onnx__export(*args, **kwargs):
    """``torch.onnx.export`` defaulting to ``dynamo=False`` (the TorchScript
    exporter), inside mmdeploy's export only; an explicit ``dynamo`` wins.

    torch 2.9 made ``dynamo=True`` (the ``torch.export``-based exporter)
    the default. mmdeploy 1.3.1 calls ``torch.onnx.export`` without
    ``dynamo`` and relies on the TorchScript exporter (its function
    rewriters patch Python functions traced by ``torch.jit``, its symbolic
    functions emit ONNX nodes), so every export fails: without onnxscript
    ``ModuleNotFoundError: No module named 'onnxscript'``, with it an opset
    down-conversion error and then ``KeyError: -1`` in the rewriter
    context. This rewriter also fixes conversions of other codebases' models
    in a process where our rewriters are registered; it is a no-op on torch
    without ``dynamo``.
    """
    ctx = FUNCTION_REWRITER.get_context()
    if _EXPORT_HAS_DYNAMO:
        kwargs.setdefault('dynamo', False)
    return ctx.origin_func(*args, **kwargs)


@FUNCTION_REWRITER.register_rewriter(func_name=HEAD_PREDICT)
def yolox_head__predict_by_feat(self,
                                cls_scores: List[Tensor],
                                bbox_preds: List[Tensor],
                                objectnesses: List[Tensor],
                                batch_img_metas: Optional[List[dict]] = None,
                                cfg: Optional[ConfigDict] = None,
                                rescale: bool = False,
                                with_nms: bool = True) -> Tuple[Tensor, ...]:
    """``YOLOXHead.predict_by_feat`` for export (all backends).

    Same detections as the PyTorch method: each prior scores only for its
    best class, ``max_c sigmoid(cls_c) * sigmoid(obj)`` (mmdeploy's rewriter
    of mmdet's head lets a prior score for every class instead), then
    mmdeploy's ``multiclass_nms`` (``onnx::NonMaxSuppression`` for
    onnxruntime, ``TRTBatchedNMS`` for TensorRT). ``rescale`` is ignored:
    boxes are in input pixels.

    Thresholds, as in mmdeploy's rewriter of mmdet's YOLOX head: the model's
    ``test_cfg`` (``score_thr``, ``nms.iou_threshold``, ``max_per_img``)
    first, else the deploy config's ``codebase_config.post_processing``
    (``score_threshold``, ``iou_threshold``, ``keep_top_k``); always from
    the deploy config: ``max_output_boxes_per_class`` and ``pre_top_k``.

    Returns:
        tuple[Tensor, Tensor]: ``dets [B, K, 5]`` (x1, y1, x2, y2, score)
        and ``labels [B, K]``; with ``with_nms=False`` ``bboxes [B, P, 4]``
        and ``scores [B, P, C]``.
    """
    ctx = FUNCTION_REWRITER.get_context()
    cfg = self.test_cfg if cfg is None else cfg
    decoded = self.decode_predictions(cls_scores, bbox_preds, objectnesses)
    classes = torch.arange(self.num_classes, device=decoded.labels.device)
    scores = torch.where(decoded.labels[..., None] == classes,
                         decoded.scores[..., None],
                         decoded.cls_probs.new_zeros(()))  # [B, P, C]
    bboxes = decoded.bboxes  # [B, P, 4]
    if not with_nms:
        return bboxes, scores

    post = get_post_processing_params(ctx.cfg)
    nms_cfg = cfg.get('nms') or {}
    return multiclass_nms(
        bboxes,
        scores,
        post.max_output_boxes_per_class,
        nms_type=nms_cfg.get('type', 'nms'),
        iou_threshold=nms_cfg.get('iou_threshold', post.iou_threshold),
        score_threshold=cfg.get('score_thr', post.score_threshold),
        pre_top_k=post.pre_top_k,
        keep_top_k=cfg.get('max_per_img', post.keep_top_k))


@FUNCTION_REWRITER.register_rewriter(func_name=PSS_HEAD_PREDICT)
def yolox_pss_head__predict_by_feat(
        self,
        cls_scores: List[Tensor],
        bbox_preds: List[Tensor],
        objectnesses: List[Tensor],
        pss_logits: Optional[List[Tensor]] = None,
        batch_img_metas: Optional[List[dict]] = None,
        cfg: Optional[ConfigDict] = None,
        rescale: bool = False,
        with_nms: bool = True) -> Tuple[Tensor, ...]:
    """``YOLOXPSSHead.predict_by_feat`` for export (all backends).

    With ``test_cfg.nms_free`` (the default; end-to-end): score
    ``sigmoid(cls) * sigmoid(obj) * sigmoid(pss)`` of every (prior, class),
    the
    ``max_per_img`` (else the deploy config's ``keep_top_k``) best with
    score ``>= score_thr`` (else ``score_threshold``): TopK and Gather, **no
    NMS node** (:func:`yolox_mm.deploy.onnx_export.end2end_topk`).
    ``rescale`` is ignored (input pixels).

    Raises:
        NotImplementedError: with ``test_cfg.nms_free=False`` (export
            the end-to-end output, or the plain YOLOX model, instead).

    Returns:
        tuple[Tensor, Tensor]: ``dets [B, K, 5]`` and ``labels [B, K]``
        (padding rows: score 0, label -1).
    """
    ctx = FUNCTION_REWRITER.get_context()
    cfg = self.test_cfg if cfg is None else cfg
    if with_nms and not cfg.get('nms_free', True) and cfg.get('nms'):
        raise NotImplementedError(
            'export of YOLOXPSSHead with test_cfg.nms_free=False: set '
            'model.test_cfg.nms_free=True (the end-to-end output) or export '
            'the YOLOX model')
    post = get_post_processing_params(ctx.cfg)
    use_pss = pss_logits is not None and cfg.get('use_pss', True)
    decoded = self.decode_predictions(cls_scores, bbox_preds, objectnesses,
                                      pss_logits if use_pss else None)
    max_det = cfg.get('max_per_img', post.keep_top_k)
    return end2end_topk(decoded.bboxes, decoded.class_scores(),
                        cfg.get('score_thr', post.score_threshold), max_det)


@FUNCTION_REWRITER.register_rewriter(func_name=FOCUS_FORWARD)
def focus__forward(self, x: Tensor) -> Tensor:
    """``Focus.forward`` with reshape/permute instead of strided slices
    (mmdeploy's rewrite of mmdet's Focus; friendlier to TensorRT and other
    backends). Same channel order: top-left, bottom-left, top-right,
    bottom-right."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, -1, 2, w)
    x = x.reshape(b, c, x.shape[2], 2, -1, 2)  # (b, c, h/2, dy, w/2, dx)
    half_h, half_w = x.shape[2], x.shape[4]
    x = x.permute(0, 5, 3, 1, 2, 4)  # (b, dx, dy, c, h/2, w/2)
    return self.conv(x.reshape(b, c * 4, half_h, half_w))
