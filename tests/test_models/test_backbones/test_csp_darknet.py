import pytest
import torch
from torch import nn

from yolox_mm.models.backbones import CSPDarknet, Focus, SPPBottleneck


def test_focus_order_tl_bl_tr_br():
    # a 1-channel 4x4 image whose pixel value is its index
    x = torch.arange(16.).reshape(1, 1, 4, 4)
    out = Focus.space_to_depth(x)
    # phases: TL = x[0::2, 0::2], BL = x[1::2, 0::2], TR = x[0::2, 1::2],
    # BR = x[1::2, 1::2]
    assert out[0, :, 0, 0].tolist() == [0., 4., 1., 5.]
    assert out[0, :, 1, 1].tolist() == [10., 14., 11., 15.]


def test_focus_odd_size_error():
    with pytest.raises(ValueError, match='even'):
        Focus.space_to_depth(torch.zeros(1, 3, 5, 4))


def test_spp_cascade_equals_direct_pools():
    torch.manual_seed(0)
    spp = SPPBottleneck(8, 8).eval()
    x = torch.randn(2, 8, 13, 11)
    mid = spp.conv1(x)
    direct = torch.cat([mid] + [
        nn.functional.max_pool2d(mid, k, 1, k // 2) for k in (5, 9, 13)
    ], 1)
    torch.testing.assert_close(spp(x), spp.conv2(direct), rtol=0, atol=0)


def test_stage_layout_and_strides():
    model = CSPDarknet(deepen_factor=0.33, widen_factor=0.5).eval()
    outs = model(torch.zeros(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 128, 8, 12), (1, 256, 4, 6),
                                             (1, 512, 2, 3)]
    # blocks per stage max(round(n * 0.33), 1) = 1, 3, 3, 1
    assert [len(getattr(model, f'stage{i}')[-1].blocks)
            for i in range(1, 5)] == [1, 3, 3, 1]
    assert isinstance(model.stage4[1], SPPBottleneck)


def test_frozen_stages():
    model = CSPDarknet(deepen_factor=0.33, widen_factor=0.25, frozen_stages=1)
    model.train()
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.stage1.parameters())
    assert all(p.requires_grad for p in model.stage2.parameters())
    assert not model.stage1[0].bn.training


@pytest.mark.parametrize('kwargs', [dict(out_indices=(5, )),
                                    dict(frozen_stages=5),
                                    dict(arch='P6')])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        CSPDarknet(**kwargs)


def test_mmdet_spelling_of_spp_kernel_sizes():
    model = CSPDarknet(widen_factor=0.25, spp_kernal_sizes=(3, 5))
    assert model.stage4[1].kernel_sizes == (3, 5)
