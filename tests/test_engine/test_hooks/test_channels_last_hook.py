"""ChannelsLastHook: the model (and so EMAHook's copy, made after it) is
NHWC; parameters keep their identity (the optimizer keeps them); a
convolution on NHWC weights gives the NCHW result within float rounding."""
import copy
from types import SimpleNamespace

import torch
from mmdet.models.layers import ExpMomentumEMA
from torch import nn

from yolox_mm.engine.hooks import ChannelsLastHook
from yolox_mm.registry import HOOKS


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                         nn.SiLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                         nn.Conv2d(8, 4, 1))


def test_registered_and_runs_before_ema_hook():
    assert HOOKS.get('ChannelsLastHook') is ChannelsLastHook
    # mmengine: VERY_HIGH = 10, EMAHook is configured at 49
    assert ChannelsLastHook.priority == 'VERY_HIGH'


def test_before_run_converts_in_place_and_keeps_values():
    model = small_model()
    reference = copy.deepcopy(model)
    params_before = list(model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ChannelsLastHook().before_run(SimpleNamespace(model=model))
    for p in model.parameters():
        if p.dim() == 4:
            assert p.is_contiguous(memory_format=torch.channels_last)
    # [C, 1, k, k] and [O, I, 1, 1] are both layouts at once; a 3x3
    # dense weight is not
    assert not model[0].weight.is_contiguous()
    assert all(a is b for a, b in zip(params_before, model.parameters()))
    assert optimizer.param_groups[0]['params'][0] is params_before[0]
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)
    # the EMA copy built afterwards (EMAHook.before_run) is NHWC as well
    ema = ExpMomentumEMA(model, momentum=0.0002)
    assert ema.module[0].weight.is_contiguous(
        memory_format=torch.channels_last)
