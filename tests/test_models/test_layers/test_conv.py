import pytest
import torch

from yolox_mm.models.layers import (ConvBNAct, DepthwiseSeparableConv,
                                    build_activation, build_norm,
                                    fuse_conv_bn)


def test_state_dict_keys_match_mmcv_conv_module():
    keys = set(ConvBNAct(3, 4, 3).state_dict())
    assert keys == {'conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean',
                    'bn.running_var', 'bn.num_batches_tracked'}
    dw_keys = set(DepthwiseSeparableConv(4, 8, 3).state_dict())
    assert {'depthwise_conv.conv.weight', 'pointwise_conv.bn.bias'} <= dw_keys


def test_bn_settings_of_published_models():
    bn = ConvBNAct(3, 4, 1).bn
    assert bn.eps == 1e-3 and bn.momentum == 0.03


def test_fuse_keeps_outputs():
    torch.manual_seed(0)
    model = torch.nn.Sequential(ConvBNAct(3, 8, 3, stride=2),
                                DepthwiseSeparableConv(8, 8, 3))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-1, 1)
    model.eval()
    x = torch.randn(2, 3, 16, 16)
    before = model(x)
    fuse_conv_bn(model)
    assert all(m.bn is None for m in model.modules()
               if isinstance(m, ConvBNAct))
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)


def test_bad_configs():
    with pytest.raises(ValueError, match='act_cfg'):
        build_activation(dict(type='Mish'))
    with pytest.raises(ValueError, match='norm_cfg'):
        build_norm(dict(type='GN', num_groups=2), 4)


def test_silu_in_place_only_without_graph():
    act = ConvBNAct(3, 4, 1).activate
    x = torch.randn(2, 4, 5, 5)
    expected = torch.nn.functional.silu(x)
    # no graph: in place, same values
    with torch.no_grad():
        y = x.clone().requires_grad_(False)
        out = act(y)
    assert out.data_ptr() == y.data_ptr()
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    # graph recorded: out of place, the input is left alone, gradients right
    x_leaf = x.clone().requires_grad_(True)
    inner = x_leaf * 1.0
    out = act(inner)
    assert out.data_ptr() != inner.data_ptr()
    torch.testing.assert_close(inner, x, rtol=0, atol=0)
    out.sum().backward()
    sig = torch.sigmoid(x)
    torch.testing.assert_close(x_leaf.grad, sig * (1 + x * (1 - sig)))


def test_optimize_for_inference_fused_channels_last():
    from yolox_mm.models.utils import optimize_for_inference
    torch.manual_seed(0)
    model = torch.nn.Sequential(ConvBNAct(3, 8, 3, stride=2),
                                DepthwiseSeparableConv(8, 8, 3))
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
        optimize_for_inference(model, fuse_conv_bn=True, channels_last=True)
        after = model(x)
    assert not model.training
    assert all(m.bn is None for m in model.modules()
               if isinstance(m, ConvBNAct))
    assert model[0].conv.weight.is_contiguous(
        memory_format=torch.channels_last)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)
