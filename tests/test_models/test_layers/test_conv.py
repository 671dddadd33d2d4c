import pytest
import torch

from yolox_mm.models.layers import (ConvBNAct, DepthwiseSeparableConv, SiLU,
                                    build_activation, build_norm, conv_class,
                                    fuse_conv_bn, optimize_for_inference)


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
    torch.manual_seed(0)
    model = torch.nn.Sequential(ConvBNAct(3, 8, 3, stride=2),
                                DepthwiseSeparableConv(8, 8, 3))
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
        optimize_for_inference(model, fold_bn=True, channels_last=True)
        after = model(x)
    assert not model.training
    assert all(m.bn is None for m in model.modules()
               if isinstance(m, ConvBNAct))
    assert model[0].conv.weight.is_contiguous(
        memory_format=torch.channels_last)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('inplace, graph, in_place', [
    (None, False, True), (None, True, False),
    (True, False, True), (True, True, True),
    (False, False, False), (False, True, False),
])
def test_silu_inplace_flag_is_what_happens(inplace, graph, in_place):
    act = SiLU(inplace=inplace)
    x = torch.randn(2, 3, 4)
    expected = torch.nn.functional.silu(x)
    inp = x.clone().requires_grad_(True) * 1.0 if graph else x.clone()
    out = act(inp)
    assert (out.data_ptr() == inp.data_ptr()) is in_place
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert torch.equal(inp, expected if in_place else x)


def test_silu_repr_states_the_flag():
    assert repr(SiLU()) == 'SiLU(inplace=auto)'
    assert repr(SiLU(inplace=False)) == 'SiLU(inplace=False)'
    assert repr(build_activation(dict(type='Swish'))) == 'SiLU(inplace=auto)'


@pytest.mark.parametrize('requires_grad', [True, False])
def test_build_norm_honours_requires_grad(requires_grad):
    """mmcv's ``build_norm_layer`` semantics: the flag is set on the norm's
    two parameters (weight, bias: 2 x 4 values), default True."""
    cfg = dict(type='BN', momentum=0.03, eps=1e-3,
               requires_grad=requires_grad)
    bn = build_norm(cfg, 4)
    assert [p.requires_grad for p in bn.parameters()] == [requires_grad] * 2
    assert sum(p.numel() for p in bn.parameters()
               if p.requires_grad) == (8 if requires_grad else 0)
    assert (bn.eps, bn.momentum) == (1e-3, 0.03)
    assert cfg['requires_grad'] is requires_grad  # the config is untouched
    block = ConvBNAct(3, 4, 3, norm_cfg=cfg)
    trainable = sum(p.numel() for p in block.parameters() if p.requires_grad)
    assert trainable == 3 * 4 * 9 + (8 if requires_grad else 0)
    assert all(p.requires_grad for p in build_norm(dict(type='BN'), 4)
               .parameters())


def test_conv_class_is_a_class_per_scale():
    assert conv_class(depthwise=False) is ConvBNAct
    assert conv_class(depthwise=True) is DepthwiseSeparableConv
