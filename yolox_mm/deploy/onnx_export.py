"""Plain ONNX export of a yolox_mm detector: decoding and NMS in the graph.

No mmdeploy: :class:`YOLOXONNXWrapper` is an ``nn.Module`` exported with
``torch.onnx.export(..., dynamo=False)``, the TorchScript exporter, whose
``symbolic`` hook emits the NMS node below (torch >= 2.9 defaults to the
dynamo exporter). The graph has standard ONNX ops only,
``NonMaxSuppression`` included, no custom op (tested with onnxruntime).

Graph contract (``B`` images, ``K = max_det``)::

    input   float32 [B, 3, H, W]   BGR, 0-255, letterboxed as the test
                                   pipeline does (keep-ratio resize, pad 114
                                   bottom/right); H, W multiples of 32
    dets    float32 [B, K, 5]      x1, y1, x2, y2 (input pixels), score;
                                   by decreasing score
    labels  int64   [B, K]         class index

Rows past the detections of an image are padding: ``dets`` all 0 and
``labels`` -1 (keep ``labels >= 0``, or equivalently ``score > 0``).
``K`` is fixed, also with dynamic batch and size.

The detections are those of ``model.predict(..., rescale=False)`` on the same
tensor: per prior the best class and its score ``max_c sigmoid(cls_c) *
sigmoid(obj)``, NMS per class, the ``max_det`` best (our
``YOLOXHead.predict_by_feat``). One difference at the margin: a prior whose
score equals ``score_thr`` exactly is kept by the head and dropped by ONNX's
``NonMaxSuppression`` (strict ``>``).

End-to-end models (:class:`~yolox_mm.models.dense_heads.YOLOXPSSHead`
with ``test_cfg.nms_free``, the default): the same contract, but the graph
has **no ``NonMaxSuppression``**: score ``sigmoid(cls) * sigmoid(obj) *
sigmoid(pss)`` of every (prior, class), ``TopK`` of the ``max_det`` best,
``>= score_thr`` (:func:`end2end_topk`; the head's ``predict_by_feat``).
"""
import json
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

#: Default ``max_det`` when the model's ``test_cfg`` has no ``max_per_img``
#: (mmdeploy's ``keep_top_k``).
DEFAULT_MAX_DET = 100
INPUT_NAMES = ('input', )
OUTPUT_NAMES = ('dets', 'labels')


def is_end2end(model: nn.Module) -> bool:
    """Whether ``model``'s head is end-to-end (has a positive-sample
    selector, ``multi_level_conv_pss``) and its ``test_cfg`` asks for no
    NMS (``nms_free``, the default, or no ``nms``): then its export has no
    ``NonMaxSuppression``."""
    head = model.bbox_head
    test_cfg = head.test_cfg or {}
    return hasattr(head, 'multi_level_conv_pss') and (
        test_cfg.get('nms_free', True) or not test_cfg.get('nms'))


class _NonMaxSuppression(torch.autograd.Function):
    """``onnx::NonMaxSuppression`` in the graph; mmcv's NMS in eager mode.

    Args (of ``apply``):
        boxes (Tensor): ``[B, P, 4]`` xyxy.
        scores (Tensor): ``[B, C, P]``.
        max_per_class (int): ``max_output_boxes_per_class``.
        iou_thr (float): a box is suppressed by a higher-scored box of the
            same image and class when their IoU is > ``iou_thr``.
        score_thr (float): only scores > ``score_thr`` take part.

    Returns:
        Tensor: ``[N, 3]`` int64 rows ``(batch, class, prior)``, by batch,
        then class, then decreasing score.
    """

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_per_class: int,
                iou_thr: float, score_thr: float) -> Tensor:
        rows = [boxes.new_zeros((0, 3), dtype=torch.long)]
        if torch.onnx.is_in_onnx_export():
            # the graph node comes from ``symbolic``; skip the eager NMS
            return rows[0]
        from mmcv.ops import nms
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                candidates = (scores[b, c] > score_thr).nonzero()[:, 0]
                if not candidates.numel():
                    continue
                _, keep = nms(boxes[b, candidates],
                              scores[b, c, candidates].contiguous(), iou_thr,
                              max_num=max_per_class)
                prior = candidates[keep]
                rows.append(torch.stack([torch.full_like(prior, b),
                                         torch.full_like(prior, c), prior],
                                        dim=1))
        return torch.cat(rows)

    @staticmethod
    def symbolic(g, boxes, scores, max_per_class: int, iou_thr: float,
                 score_thr: float):

        def const(value, dtype):
            return g.op('Constant', value_t=torch.tensor([value], dtype=dtype))

        return g.op('NonMaxSuppression', boxes, scores,
                    const(max_per_class, torch.long),
                    const(iou_thr, torch.float),
                    const(score_thr, torch.float))


def nms_topk(bboxes: Tensor, scores: Tensor, labels: Tensor, num_classes: int,
             iou_thr: float, score_thr: float,
             max_det: int) -> Tuple[Tensor, Tensor]:
    """Class-aware NMS and the ``max_det`` best detections of each image,
    as fixed-size padded tensors (standard ONNX ops only).

    Args:
        bboxes (Tensor): ``[B, P, 4]`` xyxy.
        scores (Tensor): ``[B, P]`` score of the best class of each prior.
        labels (Tensor): ``[B, P]`` that class.
        num_classes (int): ``C``.
        iou_thr (float): NMS IoU threshold (suppress when IoU > it).
        score_thr (float): keep scores > it.
        max_det (int): ``K``, detections kept per image.

    Returns:
        tuple[Tensor, Tensor]: ``dets [B, K, 5]`` (xyxy, score; padding
        rows 0) and ``labels [B, K]`` (padding -1), by decreasing score.
    """
    # [B, C, P]: each prior scores only for its best class (the head's
    # semantics), so NMS per class equals mmcv's batched_nms over labels.
    classes = torch.arange(num_classes, device=labels.device)
    class_scores = torch.where(labels[:, None, :] == classes[None, :, None],
                               scores[:, None, :], scores.new_zeros(()))
    # at most K per class is exact: NMS keeps a class's boxes by decreasing
    # score, and the K best of the image are among the K best of each class
    selected = _NonMaxSuppression.apply(bboxes, class_scores, max_det,
                                        iou_thr, score_thr)
    img_idx, prior_idx = selected[:, 0], selected[:, 2]
    # -1 everywhere but at the kept priors, plus K columns of -1 so that
    # topk(K) exists whatever the number of priors P (dynamic input size).
    kept = torch.full_like(scores, -1.0).index_put(
        (img_idx, prior_idx), scores[img_idx, prior_idx])
    kept = torch.cat([kept, torch.full_like(kept[:, :1], -1.0).expand(
        -1, max_det)], dim=1)
    top_scores, top_idx = kept.topk(max_det, dim=1)  # [B, K]
    valid = top_scores >= 0
    top_idx = torch.where(valid, top_idx, torch.zeros_like(top_idx))
    top_bboxes = bboxes.gather(1, top_idx[..., None].expand(-1, -1, 4))
    dets = torch.cat([top_bboxes, top_scores[..., None]], dim=2)
    dets = torch.where(valid[..., None], dets, dets.new_zeros(()))
    top_labels = torch.where(valid, labels.gather(1, top_idx),
                             torch.full_like(top_idx, -1))
    return dets, top_labels


def end2end_topk(bboxes: Tensor, scores: Tensor, score_thr: float,
                 max_det: int) -> Tuple[Tensor, Tensor]:
    """NMS-free output of an end-to-end head as padded tensors: the
    ``max_det`` best (prior, class) pairs with score ``>= score_thr`` (the
    selection of ``YOLOXPSSHead.predict_by_feat``), ops ``TopK``, ``Gather``
    and element-wise only.

    Args:
        bboxes (Tensor): ``[B, P, 4]`` xyxy.
        scores (Tensor): ``[B, P, C]``.
        score_thr (float): keep scores ``>=`` it.
        max_det (int): ``K``.

    Returns:
        tuple[Tensor, Tensor]: ``dets [B, K, 5]`` and ``labels [B, K]`` as
        :func:`nms_topk` (padding rows 0 and -1), by decreasing score.
    """
    num_classes = scores.shape[2]
    flat = scores.flatten(1)  # [B, P * C]
    # K columns of -1 so that topk(K) exists whatever P (dynamic size)
    flat = torch.cat([flat, torch.full_like(flat[:, :1], -1.0).expand(
        -1, max_det)], dim=1)
    top_scores, top_idx = flat.topk(max_det, dim=1)  # [B, K]
    valid = top_scores >= score_thr
    top_idx = torch.where(valid, top_idx, torch.zeros_like(top_idx))
    prior_idx = torch.div(top_idx, num_classes, rounding_mode='floor')
    top_bboxes = bboxes.gather(1, prior_idx[..., None].expand(-1, -1, 4))
    dets = torch.cat([top_bboxes, top_scores[..., None]], dim=2)
    dets = torch.where(valid[..., None], dets, dets.new_zeros(()))
    labels = torch.where(valid, top_idx - prior_idx * num_classes,
                         torch.full_like(top_idx, -1))
    return dets, labels


class YOLOXONNXWrapper(nn.Module):
    """``images -> (dets, labels)`` for export (contract in the module
    docstring).

    Applies the data preprocessor's channel conversion and mean/std (none
    for the YOLOX configs: BGR 0-255 in), then backbone, neck, head, the
    head's ``decode_predictions`` and :func:`nms_topk` (or
    :func:`end2end_topk`).

    Args:
        model (nn.Module): A yolox_mm ``YOLOX`` (or any single-stage detector
            whose head has ``decode_predictions`` over its outputs, as
            :class:`~yolox_mm.models.dense_heads.YOLOXHead`), in eval mode.
        score_thr (float, optional): Defaults to ``test_cfg.score_thr``.
        iou_thr (float, optional): Defaults to
            ``test_cfg.nms.iou_threshold``.
        max_det (int, optional): ``K``. Defaults to
            ``test_cfg.max_per_img``, else :data:`DEFAULT_MAX_DET`.

    Raises:
        ValueError: if a threshold is missing from both the arguments and
            ``test_cfg``, or ``max_det`` < 1.
    """

    def __init__(self,
                 model: nn.Module,
                 score_thr: Optional[float] = None,
                 iou_thr: Optional[float] = None,
                 max_det: Optional[int] = None) -> None:
        super().__init__()
        self.detector = model
        test_cfg = model.bbox_head.test_cfg or {}
        score = score_thr if score_thr is not None else test_cfg.get(
            'score_thr')
        nms_cfg = test_cfg.get('nms') or {}
        #: NMS-free graph: an end-to-end head without ``test_cfg.nms``
        self.end2end = is_end2end(model)
        iou = iou_thr if iou_thr is not None else nms_cfg.get('iou_threshold')
        if self.end2end and iou is None:
            iou = -1.0  # unused
        if score is None or iou is None:
            raise ValueError('score_thr and iou_thr are needed: pass them or '
                             'set test_cfg.score_thr and '
                             f'test_cfg.nms.iou_threshold (test_cfg='
                             f'{test_cfg})')
        self.score_thr, self.iou_thr = float(score), float(iou)
        if max_det is None:
            max_det = test_cfg.get('max_per_img', -1)
            max_det = max_det if max_det > 0 else DEFAULT_MAX_DET
        if max_det < 1:
            raise ValueError(f'max_det must be >= 1, got {max_det}')
        self.max_det = int(max_det)

    def normalize(self, images: Tensor) -> Tensor:
        """What ``data_preprocessor`` does to a batch besides padding."""
        pre = getattr(self.detector, 'data_preprocessor', None)
        if getattr(pre, '_channel_conversion', False):
            images = images[:, [2, 1, 0]]
        if getattr(pre, '_enable_normalize', False):
            images = (images - pre.mean) / pre.std
        return images

    def forward(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        head = self.detector.bbox_head
        feats = self.detector.extract_feat(self.normalize(images))
        outs = head(feats)  # (cls, bbox, obj[, pss]) per level
        if not (head.test_cfg or {}).get('use_pss', True):
            outs = outs[:3]
        decoded = head.decode_predictions(*outs)
        if self.end2end:
            return end2end_topk(decoded.bboxes, decoded.class_scores(),
                                self.score_thr, self.max_det)
        return nms_topk(decoded.bboxes, decoded.scores, decoded.labels,
                        head.num_classes, self.iou_thr, self.score_thr,
                        self.max_det)


def export_onnx(model: nn.Module,
                out_file: str,
                input_shape: Sequence[int] = (416, 416),
                batch_size: int = 1,
                dynamic: bool = False,
                score_thr: Optional[float] = None,
                iou_thr: Optional[float] = None,
                max_det: Optional[int] = None,
                opset_version: int = 11,
                metadata: Optional[Dict[str, str]] = None) -> str:
    """Export ``model`` to ``out_file`` (see the module docstring).

    Args:
        model (nn.Module): The detector (moved to CPU, eval mode).
        out_file (str): Path of the ``.onnx`` file.
        input_shape (Sequence[int]): ``(H, W)`` of the traced input, each a
            multiple of 32 (the largest stride). Fixed in the graph unless
            ``dynamic``.
        batch_size (int): Batch of the traced input (fixed unless
            ``dynamic``).
        dynamic (bool): Make batch, height and width dynamic axes.
        score_thr, iou_thr, max_det: See :class:`YOLOXONNXWrapper`.
        opset_version (int): >= 11 (``NonMaxSuppression`` with 5 inputs,
            ``ScatterND``). Defaults to 11.
        metadata (dict, optional): Extra ``metadata_props`` (strings).
            ``classes`` (JSON list, from ``model.dataset_meta``),
            ``score_thr``, ``iou_thr`` (-1 when unused), ``max_det``,
            ``postprocess`` (``NMS`` or ``top-k, no NMS``), ``input_shape``
            (``"H W"`` of the traced input) and ``input_format`` are always
            written.

    Returns:
        str: ``out_file``.

    Raises:
        ValueError: for a size that is not a multiple of 32 or an opset
            < 11.
    """
    height, width = _check_export_args(model, input_shape, opset_version)
    wrapper = YOLOXONNXWrapper(model.cpu().eval(), score_thr, iou_thr,
                               max_det).eval()
    dummy = torch.full((batch_size, 3, height, width), 114.0)
    _trace(wrapper, dummy, out_file, opset_version, dynamic)
    props = _metadata(model, wrapper, height, width)
    _finish_onnx_file(out_file, wrapper.max_det, {**props, **(metadata or {})})
    return out_file


def _trace(wrapper: nn.Module, dummy: Tensor, out_file: str,
           opset_version: int, dynamic: bool) -> None:
    """``torch.onnx.export`` of ``wrapper`` on ``dummy [B, 3, H, W]`` with
    the TorchScript exporter (``dynamo=False``); with ``dynamic``, batch,
    height and width are dynamic axes."""
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {
            'input': {0: 'batch', 2: 'height', 3: 'width'},
            'dets': {0: 'batch'},
            'labels': {0: 'batch'}
        }
    with torch.no_grad():
        torch.onnx.export(
            wrapper, (dummy, ),
            out_file,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            opset_version=opset_version,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
            dynamo=False)


def _metadata(model: nn.Module, wrapper: YOLOXONNXWrapper, height: int,
              width: int) -> Dict[str, str]:
    """The ``metadata_props`` that :func:`export_onnx` always writes."""
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    return {
        'classes': json.dumps(list(classes) if classes else []),
        'score_thr': str(wrapper.score_thr),
        'iou_thr': str(wrapper.iou_thr),
        'max_det': str(wrapper.max_det),
        'postprocess': 'top-k, no NMS' if wrapper.end2end else 'NMS',
        'input_shape': f'{height} {width}',
        'input_format': ('BGR float 0-255, keep-ratio resize + pad 114 '
                         'bottom/right; dets in input pixels'),
    }


def _check_export_args(model: nn.Module, input_shape: Sequence[int],
                       opset_version: int) -> Tuple[int, int]:
    """``(H, W)`` of ``input_shape``, checked (see :func:`export_onnx`)."""
    height, width = (int(s) for s in input_shape)
    stride = max(model.bbox_head.strides)
    if height % stride or width % stride or height < stride:
        raise ValueError(f'input_shape must be multiples of {stride} (the '
                         f'largest stride), got (H, W) = ({height}, {width})')
    if opset_version < 11:
        raise ValueError(f'opset_version must be >= 11, got {opset_version}')
    return height, width


def _finish_onnx_file(out_file: str, max_det: int,
                      props: Dict[str, str]) -> None:
    """Set the fixed ``K = max_det`` of the outputs, add ``props`` as
    ``metadata_props``, check and save ``out_file`` in place."""
    import onnx

    onnx_model = onnx.load(out_file)
    for output in onnx_model.graph.output:
        # K is max_det whatever the input; ONNX shape inference cannot see
        # it through the dynamic number of priors
        output.type.tensor_type.shape.dim[1].dim_value = max_det
    for key, value in props.items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, out_file)
