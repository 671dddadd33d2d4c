import pytest
import torch

from yolox_mm.models.necks import YOLOXPAFPN


def test_output_shapes_and_reduced_maps_in_bottom_up_path():
    neck = YOLOXPAFPN([16, 32, 64], 24, num_csp_blocks=1).eval()
    feats = [torch.randn(1, 16, 16, 16), torch.randn(1, 32, 8, 8),
             torch.randn(1, 64, 4, 4)]
    outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(1, 24, 16, 16),
                                             (1, 24, 8, 8), (1, 24, 4, 4)]
    # The bottom-up CSP of the stride-16 level reads cat[down(N3), P4'],
    # i.e. 16 + 16 channels; Megvii concatenates the reduced map P4'
    # (16 channels), not the top-down CSP output (32 channels).
    assert neck.bottom_up_blocks[0].main_conv.conv.in_channels == 32
    assert neck.bottom_up_blocks[1].main_conv.conv.in_channels == 64


def test_wrong_number_of_inputs():
    neck = YOLOXPAFPN([16, 32, 64], 24)
    with pytest.raises(ValueError, match='expects 3'):
        neck([torch.zeros(1, 16, 8, 8)])
