"""CSPLayer and DarknetBottleneck (yolox_mm.models.layers.csp_layer).

Parameter counts by hand for ``CSPLayer(4, 8)`` (``mid = int(8 * 0.5) =
4``); a ``ConvBNAct(c_in, c_out, k)`` has ``c_in * c_out * k * k`` conv
weights (no bias) plus ``2 * c_out`` BN parameters:

==============================  =========================  =====
module                          count                      total
==============================  =========================  =====
main_conv  ConvBNAct(4, 4, 1)   16 + 8                        24
short_conv ConvBNAct(4, 4, 1)   16 + 8                        24
final_conv ConvBNAct(8, 8, 1)   64 + 16                       80
block.conv1 ConvBNAct(4, 4, 1)  16 + 8                        24
block.conv2 ConvBNAct(4, 4, 3)  144 + 8                      152
==============================  =========================  =====

so 304 with one block, 304 + 176 = 480 with two. Depthwise: ``block.conv2``
is ``DepthwiseSeparableConv(4, 4, 3)``, a 3x3 depthwise ConvBNAct (4 * 9 +
8 = 44) and a 1x1 pointwise one (16 + 8 = 24), so the block is 24 + 68 = 92
and the layer 220.
"""
import pytest
import torch

from yolox_mm.models.layers import (CSPLayer, DarknetBottleneck,
                                    DepthwiseSeparableConv)


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('num_blocks, use_depthwise, expected', [
    (1, False, 304), (2, False, 480), (1, True, 220), (0, False, 128),
])
def test_parameter_count_by_hand(num_blocks, use_depthwise, expected):
    layer = CSPLayer(4, 8, num_blocks=num_blocks,
                     use_depthwise=use_depthwise)
    assert _params(layer) == expected
    assert len(layer.blocks) == num_blocks
    if num_blocks and use_depthwise:
        assert isinstance(layer.blocks[0].conv2, DepthwiseSeparableConv)


def _random_bn(module):
    torch.manual_seed(0)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.bias.uniform_(-0.5, 0.5)
    return module.eval()


def test_forward_is_the_diagram():
    """``final_conv(cat(blocks(main_conv(x)), short_conv(x)))``, each
    bottleneck ``conv2(conv1(m)) + m``; shapes ``[N, 4, H, W] -> [N, 8, H,
    W]``."""
    layer = _random_bn(CSPLayer(4, 8, num_blocks=2))
    x = torch.randn(2, 4, 5, 7)
    with torch.no_grad():
        main = layer.main_conv(x)
        for block in layer.blocks:
            main = block.conv2(block.conv1(main)) + main
        expected = layer.final_conv(torch.cat([main, layer.short_conv(x)],
                                              1))
        out = layer(x)
    assert out.shape == (2, 8, 5, 7)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_shortcut_off_drops_exactly_the_identity():
    """Same weights with and without ``add_identity``: the bottleneck
    outputs differ by exactly the bottleneck's input."""
    torch.manual_seed(1)
    with_id = _random_bn(CSPLayer(4, 8, num_blocks=1, add_identity=True))
    without = CSPLayer(4, 8, num_blocks=1, add_identity=False).eval()
    without.load_state_dict(with_id.state_dict())  # same keys, no params
    x = torch.randn(1, 4, 6, 6)
    with torch.no_grad():
        m = with_id.main_conv(x)
        block = with_id.blocks[0]
        torch.testing.assert_close(block(m) - without.blocks[0](m), m,
                                   rtol=0, atol=1e-6)
        assert not torch.allclose(with_id(x), without(x))
        # with the bottleneck's last conv zeroed (SiLU(BN(0)) with beta =
        # mean = 0 is 0), the shortcut alone carries the main branch
        for layer in (with_id, without):
            conv2 = layer.blocks[0].conv2
            conv2.conv.weight.zero_()
            conv2.bn.bias.zero_()
            conv2.bn.running_mean.zero_()
        short = with_id.short_conv(x)
        torch.testing.assert_close(
            with_id(x), with_id.final_conv(torch.cat([m, short], 1)),
            rtol=0, atol=0)
        torch.testing.assert_close(
            without(x),
            with_id.final_conv(torch.cat([torch.zeros_like(m), short], 1)),
            rtol=0, atol=0)


def test_bottleneck_identity_only_when_channels_match():
    assert DarknetBottleneck(4, 4).add_identity
    assert not DarknetBottleneck(4, 8).add_identity
    assert not DarknetBottleneck(4, 4, add_identity=False).add_identity
    # hidden = int(out * expansion): 1x1 to 2 channels, 3x3 back to 4
    narrow = DarknetBottleneck(4, 4, expansion=0.5)
    assert (narrow.conv1.conv.out_channels,
            narrow.conv2.conv.in_channels) == (2, 2)
    assert _params(narrow) == (4 * 2 + 4) + (2 * 4 * 9 + 8)
