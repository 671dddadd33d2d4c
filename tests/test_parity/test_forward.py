"""Inference parity at all six scales (nano, tiny, s, m, l, x).

References:

* Megvii's official YOLOX, **yolox-datamint 0.3.1** (PyPI wheel of
  ``Megvii-BaseDetection/YOLOX`` 0.3.x; ``exps/default/yolox_*.py``,
  ``YOLOX.forward`` in eval mode, ``yolox.utils.postprocess``). Its
  weights are converted with ``tools/model_converters/yolox_to_yolox_mm.py``.
  Its SimOTA is V1 (in box or within 2.5 strides, 1e5 penalty), see
  ``megvii.py``; assignment is compared in ``test_assigner.py`` against
  mmdet, training in ``test_loss.py``/``test_train_step.py``.
* **mmdet 3.3.0** ``YOLOX`` built from its ``configs/yolox/yolox_*_8xb8-
  300e_coco.py``; its ``state_dict`` is loaded into ours unchanged
  (``strict=True``), which is the check that mmdet checkpoints need no
  conversion.

Each reference gets random weights and randomised BN statistics
(``builders.randomise``); our model (built from our configs) gets the same
weights; the same BGR 0-255 images go through both in eval mode. Checked:
identical state_dict key sets and shapes, raw head outputs (``max |diff|
<= 1e-4``), decoded boxes and scores, and the final detections (score
0.01, class-aware NMS 0.65): same count, labels and order, boxes within
1e-3 px, scores within 1e-5.

Against Megvii the float32 outputs are bit for bit equal (same layers,
same ``nn.SiLU``). mmdet's activation is mmcv's ``Swish`` (``x *
torch.sigmoid(x)``), equal to ``nn.SiLU`` but rounded differently; through
these random deep networks the 1-ulp differences grow to ~1e-4 (nano, s)
and ~2e-2 (x) in float32 logits, so the mmdet comparison is made (1) in
float64 on the unmodified mmdet model (measured ``max |diff|`` 2e-13 to
4e-11) and (2) in float32 with its ``Swish`` replaced by ``nn.SiLU``
(``builders.swish_to_silu``), where outputs and detections must be bit for
bit equal.
"""
import pytest
import torch

from yolox_mm.utils import megvii_checkpoint
from .builders import (SCALES, bgr_images, build_mmdet, build_ours,
                       compare_detections, detections, head_outputs,
                       max_abs_diff, randomise, randomise_pred_biases,
                       swish_to_silu)
from .megvii import RawHeadOutputs, build_megvii, megvii_postprocess

#: (batch, side) of the test images per scale: the large models are run on
#: one small image to keep the suite within minutes on 2 CPU cores.
INPUTS = {'nano': (2, 320), 'tiny': (2, 320), 's': (2, 320), 'm': (1, 320),
          'l': (1, 256), 'x': (1, 160)}
SCORE_THR, NMS_THR = 0.01, 0.65
RAW_TOL, BOX_TOL, SCORE_TOL = 1e-4, 1e-3, 1e-5
FP64_SIDE = 160
SLOW = ('l', 'x')


def _scales():
    return [pytest.param(s, marks=pytest.mark.slow) if s in SLOW else s
            for s in SCALES]


def _assert_same_keys(expected: dict, actual: dict, what: str) -> None:
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    assert not missing and not unexpected, (
        f'{what}: missing {missing[:5]}, unexpected {unexpected[:5]}')
    shapes = [k for k in expected if expected[k].shape != actual[k].shape]
    assert not shapes, f'{what}: shape mismatch at {shapes[:5]}'


def _flat(outs):
    return [t for level_list in outs for t in level_list]


def _to_float(outs):
    return tuple([t.float() for t in level_list] for level_list in outs)


def _decoded_like_megvii(model, outs) -> torch.Tensor:
    """Our outputs in Megvii's eval layout ``[B, P, 4 + 1 + C]``: ``(cx,
    cy, w, h)`` pixels (``t_xy * s + grid * s``, ``exp(t_wh) * s``, the
    centre and size inside our ``decode_bboxes``), sigmoid objectness,
    sigmoid class scores."""
    from yolox_mm.models.dense_heads.yolox_head import flatten_levels
    cls_scores, bbox_preds, objectnesses = outs
    priors = model.bbox_head.flat_priors(cls_scores)
    deltas = flatten_levels(bbox_preds)
    cxcywh = torch.cat([deltas[..., :2] * priors[:, 2:] + priors[:, :2],
                        deltas[..., 2:].exp() * priors[:, 2:]], dim=-1)
    return torch.cat([cxcywh, flatten_levels(objectnesses).sigmoid(),
                      flatten_levels(cls_scores).sigmoid()], dim=-1)


@pytest.mark.parametrize('scale', _scales())
@torch.no_grad()
def test_forward_matches_megvii(scale, megvii, record_property):
    batch, size = INPUTS[scale]
    ref = build_megvii(scale)
    randomise(ref, bgr_images(batch, size, seed=5), seed=2)
    randomise_pred_biases(ref.head.cls_preds, seed=3, mean=-1.0)
    randomise_pred_biases(ref.head.obj_preds, seed=4, mean=-2.0)

    converted = megvii_checkpoint.convert_state_dict(ref.state_dict(), scale)
    ours = build_ours(scale)
    _assert_same_keys(ours.state_dict(), converted, f'converted {scale}')
    ours.load_state_dict(converted, strict=True)

    images = bgr_images(batch, size, seed=5)
    hooks = RawHeadOutputs(ref)
    ref_decoded = ref(images)
    hooks.remove()
    outs = head_outputs(ours, images)

    raw_diff = max_abs_diff(_flat(hooks.outputs), _flat(outs))
    decoded_diff = max_abs_diff([ref_decoded], [_decoded_like_megvii(ours,
                                                                     outs)])
    assert raw_diff <= RAW_TOL, f'max |raw head output diff| {raw_diff}'
    assert decoded_diff <= BOX_TOL, f'max |decoded diff| {decoded_diff}'

    ref_dets = []
    for det in megvii_postprocess(ref_decoded, ref.head.num_classes,
                                  SCORE_THR, NMS_THR):
        det = det if det is not None else ref_decoded.new_zeros((0, 7))
        ref_dets.append((det[:, :4], det[:, 4] * det[:, 5], det[:, 6]))
    stats = compare_detections(
        ref_dets, detections(ours, outs, batch, SCORE_THR, NMS_THR),
        BOX_TOL, SCORE_TOL)
    assert stats['num_dets'] > 0, 'no detection: the test would be vacuous'
    stats.update(raw_diff=raw_diff, decoded_diff=decoded_diff)
    record_property('parity', stats)
    print(f'\n[megvii {scale}] {stats}')


@pytest.mark.parametrize('scale', _scales())
@torch.no_grad()
def test_forward_matches_mmdet(scale, record_property):
    batch, size = INPUTS[scale]
    images = bgr_images(batch, size, seed=5)
    ref = build_mmdet(scale)
    randomise(ref, images, seed=2, forward=head_outputs)
    randomise_pred_biases(ref.bbox_head.multi_level_conv_cls, 3, -1.0)
    randomise_pred_biases(ref.bbox_head.multi_level_conv_obj, 4, -2.0)

    ours = build_ours(scale)
    # mmdet checkpoints need no conversion: same keys, same shapes
    _assert_same_keys(ours.state_dict(), ref.state_dict(), f'mmdet {scale}')
    ours.load_state_dict(ref.state_dict(), strict=True)
    outs = head_outputs(ours, images)

    # 1. float64 (on a 160x160 crop, fp64 convolutions are slow): the two
    # functions agree to rounding
    ref64, ours64 = ref.double(), ours.double()
    crop = images[:1, :, :FP64_SIDE, :FP64_SIDE].double()  # whole x image
    ref_outs = head_outputs(ref64, crop)
    outs64 = head_outputs(ours64, crop)
    raw_diff = max_abs_diff(_flat(ref_outs), _flat(outs64))
    assert raw_diff <= RAW_TOL, f'max |raw head output diff| {raw_diff}'
    # (mmcv's NMS is fp32-only: the fp64 outputs are rounded to fp32)
    stats = compare_detections(
        detections(ref64, _to_float(ref_outs), 1, SCORE_THR, NMS_THR),
        detections(ours64, _to_float(outs64), 1, SCORE_THR, NMS_THR),
        BOX_TOL, SCORE_TOL)
    assert stats['num_dets'] > 0, 'no detection: the test would be vacuous'

    # 2. float32 with mmdet's Swish replaced by nn.SiLU: bit for bit
    ref, ours = swish_to_silu(ref.float()), ours.float()
    ref_outs = head_outputs(ref, images)
    assert max_abs_diff(_flat(ref_outs), _flat(outs)) == 0
    same = compare_detections(
        detections(ref, ref_outs, batch, SCORE_THR, NMS_THR),
        detections(ours, outs, batch, SCORE_THR, NMS_THR), 0.0, 0.0)
    assert same['num_dets'] > 0

    stats.update(raw_diff_fp64=raw_diff, num_dets_fp32=same['num_dets'])
    record_property('parity', stats)
    print(f'\n[mmdet {scale}] {stats}')
