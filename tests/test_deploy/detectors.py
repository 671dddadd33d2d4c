"""Detectors with crafted weights, the test pipeline and the comparison of
exported detections with PyTorch's, for the deployment tests.

A randomly initialised YOLOX predicts nothing useful: its activations shrink
to ~1e-8 through the stages (every score is the same 1e-4, so NMS order is a
matter of ties). :func:`make_detector` therefore sets the BatchNorm
statistics from a calibration batch (O(1) activations, distinct scores) and
the head biases so that some priors pass the score threshold with boxes
of ~12 strides, enough overlap for NMS to suppress about half of them.
"""
import math
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torch import nn

from yolox_mm.testing.calibrate import reset_bn_statistics

REPO = Path(__file__).resolve().parents[2]
TREE_CFG = REPO / 'configs' / 'yolox_nano_1xb4-200e_deepforest.py'
NANO_CFG = REPO / 'configs' / 'yolox_nano_8xb8-300e_coco.py'
TREE_IMAGES = REPO / 'data' / 'deepforest' / 'images'
#: Square 400x400 validation tiles of the tree data: resized to 416x416
#: without padding. (In a padded letterbox every prior deep inside the
#: constant 114 border has the same score, and which of two tied
#: overlapping boxes NMS keeps is implementation-defined.)
TREE_VAL_TILES = ('2019_YELL_2_541000_4977000_image_crop_x0_y0.png',
                  '2019_YELL_2_541000_4977000_image_crop_x400_y400.png')
#: Scale of the box-regression weights. The fp32 outputs of this random
#: network are noisy: onnxruntime and PyTorch each differ from float64 by
#: up to ~1e-4 in most logits and ~4e-3 at a few priors, i.e. up to ~1 px on
#: a 12-stride box. Scaled by 1e-3 the noise stays < 1e-3 px while the
#: boxes still vary from prior to prior by ~0.01-0.05 px (a prior/box
#: mix-up would show), around a 12-stride box offset by a quarter stride.
REG_WEIGHT_SCALE = 1e-3
#: Test settings of the crafted models: 8 and 32 detections on the synthetic
#: images 1 and 2, 100-180 on the tree tiles, after NMS has removed about half
#: of the candidates. A lower threshold lets in many more candidates, and
#: with them pairs of overlapping boxes whose scores differ by less than
#: the fp32 noise: NMS then keeps one box of such a pair in onnxruntime and
#: the other in PyTorch (seen at score_thr 0.2).
TEST_CFG = dict(score_thr=0.3, nms=dict(type='nms', iou_threshold=0.65),
                max_per_img=300)


def synthetic_image(seed: int, height: int = 416,
                    width: int = 416) -> np.ndarray:
    """``[H, W, 3]`` uint8 BGR: smooth random blobs plus noise (no flat
    areas, hence no tied scores)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = rng.normal(0, 12, (height, width, 3)).astype(np.float32) + 90
    for _ in range(12):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        r = rng.uniform(10, 60)
        blob = np.exp(-((yy - cy)**2 + (xx - cx)**2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-80, 140, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def tree_tiles() -> List[np.ndarray]:
    """The :data:`TREE_VAL_TILES` as BGR arrays; fails with the command
    that creates them when the prepared data are missing."""
    import cv2
    paths = [TREE_IMAGES / name for name in TREE_VAL_TILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.fail(f'tree tiles not prepared ({missing[0]} missing); run '
                    '`make data` to create data/deepforest/')
    return [cv2.imread(str(p)) for p in paths]


def load_cfg(path: Path, num_classes: int = None) -> Config:
    cfg = Config.fromfile(str(path))
    if num_classes is not None:
        cfg.model.bbox_head.num_classes = num_classes
    cfg.model.test_cfg = ConfigDict(TEST_CFG)
    return cfg


def make_detector(cfg: Config, calib_images: Sequence[np.ndarray],
                  classes: Tuple[str, ...], seed: int = 0) -> nn.Module:
    """A YOLOX from ``cfg`` with crafted weights (see the module docstring),
    in eval mode, ``test_cfg`` = :data:`TEST_CFG`."""
    from yolox_mm.registry import MODELS
    init_default_scope('yolox_mm')
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.cfg = cfg
    model.dataset_meta = dict(classes=tuple(classes))
    inputs, _ = preprocess(model, calib_images)
    reset_bn_statistics(model, inputs)  # = the calibration batch's
    head = model.bbox_head
    for conv_cls, conv_reg, conv_obj in zip(head.multi_level_conv_cls,
                                            head.multi_level_conv_reg,
                                            head.multi_level_conv_obj):
        nn.init.constant_(conv_cls.bias, 2.0)
        nn.init.constant_(conv_obj.bias, -1.5)
        with torch.no_grad():
            conv_reg.weight.mul_(REG_WEIGHT_SCALE)
            conv_reg.bias.copy_(torch.tensor([0.25, -0.25, math.log(12),
                                              math.log(12)]))
    return model.eval()


def preprocess(model: nn.Module, images: Sequence[np.ndarray]):
    """The model's test pipeline (without annotations) and data
    preprocessor: ``(inputs [B, 3, H, W] float, data_samples)``."""
    steps = [dict(t) for t in model.cfg.test_pipeline
             if t['type'] != 'LoadAnnotations']
    steps[0] = dict(type='mmdet.LoadImageFromNDArray')
    pipeline = Compose(steps)
    init_default_scope('yolox_mm')
    data = [pipeline(dict(img=img, img_id=i)) for i, img in enumerate(images)]
    batch = model.data_preprocessor(
        dict(inputs=[d['inputs'] for d in data],
             data_samples=[d['data_samples'] for d in data]), False)
    return batch['inputs'], batch['data_samples']


def torch_detections(model: nn.Module, inputs: torch.Tensor,
                     data_samples) -> List[InstanceData]:
    with torch.no_grad():
        results = model.predict(inputs, data_samples, rescale=False)
    return [r.pred_instances for r in results]


def assert_same_detections(dets: np.ndarray, labels: np.ndarray,
                           expected: InstanceData, atol: float = 1e-3):
    """One image: the ONNX ``dets [K, 5]``/``labels [K]`` (padding rows 0 /
    -1 at the end) hold the same detections as ``expected`` (boxes within
    ``atol`` px, same labels, scores within 1e-3), matched one to one."""
    valid = labels >= 0
    num = int(valid.sum())
    assert num == len(expected), (
        f'{num} ONNX detections, {len(expected)} PyTorch detections')
    assert valid[:num].all() and not valid[num:].any(), 'padding not last'
    assert (dets[num:] == 0).all() and (labels[num:] == -1).all()
    assert (np.diff(dets[:num, 4]) <= 0).all(), 'not by decreasing score'
    boxes = expected.bboxes.numpy()
    diff = np.abs(dets[:num, None, :4] - boxes[None]).max(-1)  # [K, K]
    match = diff.argmin(axis=0)
    assert len(set(match.tolist())) == num, 'detections do not pair up'
    worst = diff[match, np.arange(num)].max(initial=0)
    assert worst <= atol, f'boxes differ by up to {worst:.2e} px'
    np.testing.assert_array_equal(labels[match], expected.labels.numpy())
    np.testing.assert_allclose(dets[match, 4], expected.scores.numpy(),
                               atol=1e-3)
