"""Our FLOP counter (yolox_mm.utils.complexity) on hand-countable models."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import nn

import yolox_mm  # noqa: F401
from yolox_mm.registry import MODELS
from yolox_mm.utils import complexity, conv_flops

ROOT = osp.join(osp.dirname(__file__), '..', '..')


class _TwoConvs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=2)

    def _forward(self, x):
        return self.b(self.a(x))


def test_conv_flops_by_hand():
    # a: 2 * (4 * 32 * 32) * 3 * 9; b: 2 * (4 * 16 * 16) * (4 / 2) * 9
    expected = 2 * 4096 * 27 + 2 * 1024 * 18
    assert conv_flops(_TwoConvs(), torch.zeros(1, 3, 32, 32)) == expected
    params, gflops = complexity(_TwoConvs(), (32, 32))
    assert params == (4 * 3 * 9 + 4) + (4 * 2 * 9 + 4)
    assert gflops == pytest.approx(expected / 1e9)
    with pytest.raises(ValueError, match='multiples of 32'):
        complexity(_TwoConvs(), (30, 32))


def _build(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        return MODELS.build(cfg.model)


def test_selector_flops_at_320():
    """YOLOX-S e2e - YOLOX-S: per prior (40^2 + 20^2 + 10^2 = 2100 at 320)
    two 3x3 convs 128 -> 128 and a 1x1 conv 128 -> 1, x 2 FLOPs a MAC."""
    base = complexity(_build('yolox_s_8xb8-300e_coco.py'), (320, 320))[1]
    e2e = complexity(_build('yolox_s_e2e_8xb8-300e_coco.py'), (320, 320))[1]
    per_prior = 2 * (2 * 128 * 128 * 9 + 128)
    assert (e2e - base) * 1e9 == pytest.approx(2100 * per_prior, abs=1)
