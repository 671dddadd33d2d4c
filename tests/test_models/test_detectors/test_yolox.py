"""The YOLOX detector's inference switches: BN folding
(:meth:`YOLOX.fuse_conv_bn`) and :meth:`YOLOX.optimize_for_inference`.

The model is YOLOX-Nano's layout (depth 0.33, width 0.25, depthwise) at 3
classes, with random BN statistics and affine parameters so that folding
changes every convolution. Folding is exact in real arithmetic
(``w' = w * gamma / sqrt(var + eps)``, ``b' = beta - mean * gamma /
sqrt(var + eps)``), so the raw head outputs may differ by float32
rounding only: the bound is ``atol = 1e-5, rtol = 1e-4`` (measured on this
model, 1 thread: largest difference 1.5e-7 after folding, 1.8e-7 with
channels_last too, on outputs of magnitude up to 0.33; a folded bias that
is wrong by one BN ``beta`` would be off by up to 0.5).
"""

import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn

from yolox_mm.models.layers import ConvBNAct
from yolox_mm.registry import MODELS

NORM = dict(type='BN', momentum=0.03, eps=1e-3)
NANO_3_CLASSES = dict(
    type='YOLOX',
    backbone=dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.25,
                  use_depthwise=True, norm_cfg=NORM),
    neck=dict(type='YOLOXPAFPN', in_channels=[64, 128, 256],
              out_channels=64, num_csp_blocks=1, use_depthwise=True,
              norm_cfg=NORM),
    bbox_head=dict(type='YOLOXHead', num_classes=3, in_channels=64,
                   feat_channels=64, use_depthwise=True, norm_cfg=NORM),
    train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
    test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))


def _batch_norms(model):
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.fixture
def model():
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        detector = MODELS.build(NANO_3_CLASSES)
    with torch.no_grad():
        for bn in _batch_norms(detector):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    return detector.eval()


@pytest.fixture
def image():
    return torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))


def _outputs(model, image):
    with torch.no_grad():
        cls, bbox, obj = model._forward(image)
    return torch.cat([torch.cat([c, b, o], 1).flatten(1)
                      for c, b, o in zip(cls, bbox, obj)], 1)


def test_fuse_conv_bn_removes_every_bn_and_keeps_outputs(model, image):
    blocks = sum(isinstance(m, ConvBNAct) for m in model.modules())
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    # every BN sits in a ConvBNAct (CSPDarknet, PAFPN and head stems)
    assert len(_batch_norms(model)) == blocks > 0
    before = _outputs(model, image)
    # 3 levels x (3 classes + 4 box + 1 objectness) x (8x12 + 4x6 + 2x3)
    assert before.shape == (2, 8 * (96 + 24 + 6))

    model.train()
    assert model.fuse_conv_bn() is model
    assert not model.training
    assert _batch_norms(model) == []
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == convs
    keys = model.state_dict().keys()
    assert not any('.bn.' in k for k in keys)
    assert sum(k.endswith('conv.bias') for k in keys) >= blocks
    torch.testing.assert_close(_outputs(model, image), before, rtol=1e-4,
                               atol=1e-5)
    model.fuse_conv_bn()  # again: nothing left to fold
    torch.testing.assert_close(_outputs(model, image), before, rtol=1e-4,
                               atol=1e-5)


def test_optimize_for_inference_folds_and_goes_channels_last(model, image):
    before = _outputs(model, image)
    assert model.optimize_for_inference(fold_bn=True,
                                        channels_last=True) is model
    assert _batch_norms(model) == []
    weights = [m.weight for m in model.modules()
               if isinstance(m, nn.Conv2d) and m.weight.shape[-1] > 1]
    assert weights and all(
        w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    torch.testing.assert_close(_outputs(model, image), before, rtol=1e-4,
                               atol=1e-5)


def test_optimize_for_inference_switches_off_change_nothing(model, image):
    before = _outputs(model, image)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    model.optimize_for_inference(fold_bn=False, channels_last=False)
    assert not model.training
    assert len(_batch_norms(model)) > 0
    assert model.state_dict().keys() == state.keys()
    assert torch.equal(_outputs(model, image), before)

