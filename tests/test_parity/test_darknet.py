"""YOLOX-DarkNet53 against Megvii's ``exps/default/yolov3.py`` model
(yolox-datamint 0.3.1: ``YOLOX(YOLOFPN(), YOLOXHead(80, 1.0, [128, 256,
512], act='lrelu'))``): Megvii's weights (random, with randomised BN
statistics) converted by ``yolox_mm.utils.megvii_checkpoint`` (behind
``tools/model_converters/yolox_to_yolox_mm.py``)
load into ours built from ``configs/yolox_darknet53_8xb8-300e_coco.py``
with ``strict=True``, and the raw head outputs agree within 1e-4, the
decoded boxes within 1e-3 px, the detections (score 0.01, NMS 0.65) in
count, order, labels, boxes and scores.
"""
import importlib

import pytest
import torch

from .builders import (bgr_images, build_ours, compare_detections,
                       detections, head_outputs, max_abs_diff,
                       randomise, randomise_pred_biases)
from yolox_mm.utils import megvii_checkpoint

from .megvii import RawHeadOutputs, import_megvii, megvii_postprocess
from .test_forward import _assert_same_keys, _decoded_like_megvii, _flat

RAW_TOL, BOX_TOL, SCORE_TOL = 1e-4, 1e-3, 1e-5


def build_megvii_darknet53(num_classes: int = 80):
    """Megvii's ``exps/default/yolov3.py`` model, eval mode."""
    import_megvii()
    exp = importlib.import_module('yolox.exp.default.yolov3').Exp()
    exp.num_classes = num_classes
    return exp.get_model().eval()


@torch.no_grad()
def test_darknet53_forward_matches_megvii(megvii, record_property):
    batch, size = 1, 160
    ref = build_megvii_darknet53()
    randomise(ref, bgr_images(batch, size, seed=5), seed=2)
    randomise_pred_biases(ref.head.cls_preds, seed=3, mean=-1.0)
    randomise_pred_biases(ref.head.obj_preds, seed=4, mean=-2.0)

    conv = megvii_checkpoint
    state = ref.state_dict()
    info = conv.detect_scale(state)
    assert info.name == 'darknet53' and info.num_classes == 80
    converted = conv.convert_state_dict(state, 'darknet53')
    ours = build_ours('darknet53')
    _assert_same_keys(ours.state_dict(), converted, 'converted darknet53')
    ours.load_state_dict(converted, strict=True)

    images = bgr_images(batch, size, seed=5)
    hooks = RawHeadOutputs(ref)
    ref_decoded = ref(images)
    hooks.remove()
    outs = head_outputs(ours, images)
    raw_diff = max_abs_diff(_flat(hooks.outputs), _flat(outs))
    decoded_diff = max_abs_diff([ref_decoded],
                                [_decoded_like_megvii(ours, outs)])
    assert raw_diff <= RAW_TOL, f'max |raw head output diff| {raw_diff}'
    assert decoded_diff <= BOX_TOL, f'max |decoded diff| {decoded_diff}'

    ref_dets = []
    for det in megvii_postprocess(ref_decoded, 80, 0.01, 0.65):
        det = det if det is not None else ref_decoded.new_zeros((0, 7))
        ref_dets.append((det[:, :4], det[:, 4] * det[:, 5], det[:, 6]))
    stats = compare_detections(ref_dets,
                               detections(ours, outs, batch, 0.01, 0.65),
                               BOX_TOL, SCORE_TOL)
    assert stats['num_dets'] > 0, 'no detection: the test would be vacuous'
    stats.update(raw_diff=raw_diff, decoded_diff=decoded_diff)
    record_property('parity', stats)
    print(f'\n[megvii darknet53] {stats}')


@pytest.mark.parametrize('megvii_key, ours_key', [
    ('backbone.backbone.stem.0.conv.weight', 'backbone.stem.0.conv.weight'),
    ('backbone.backbone.stem.2.layer1.bn.bias',
     'backbone.stem.2.conv1.bn.bias'),
    ('backbone.backbone.dark2.1.layer2.conv.weight',
     'backbone.stage1.1.conv2.conv.weight'),
    ('backbone.backbone.dark5.2.layer1.conv.weight',  # ResLayer, not CSP
     'backbone.stage4.2.conv1.conv.weight'),
    ('backbone.backbone.dark5.7.conv2.bn.running_mean',  # SPP
     'backbone.stage4.7.conv2.bn.running_mean'),
    ('backbone.backbone.dark5.9.conv.weight',
     'backbone.stage4.9.conv.weight'),
    ('backbone.out1_cbl.conv.weight', 'neck.lateral_convs.0.conv.weight'),
    ('backbone.out2_cbl.bn.weight', 'neck.lateral_convs.1.bn.weight'),
    ('backbone.out1.4.conv.weight', 'neck.detect_blocks.0.4.conv.weight'),
    ('backbone.out2.0.bn.num_batches_tracked',
     'neck.detect_blocks.1.0.bn.num_batches_tracked'),
    ('head.stems.1.conv.weight', 'neck.out_convs.1.conv.weight'),
])
def test_darknet53_key_rules(megvii_key, ours_key):
    assert megvii_checkpoint.convert_key(megvii_key) == ours_key


def test_darknet53_scale_mismatch_is_reported(megvii):
    state = build_megvii_darknet53(num_classes=3).state_dict()
    conv = megvii_checkpoint
    with pytest.raises(ValueError, match="requested scale 's'"):
        conv.convert_state_dict(state, 's')
    assert conv.detect_scale(state).num_classes == 3
