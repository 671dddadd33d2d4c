"""Darknet-53 backbone of YOLOX-DarkNet53 (paper section 2.1, "Implementation
details" / "YOLOv3 baseline": DarkNet53 with an SPP layer; Table 2).

Reference: Megvii ``yolox/models/darknet.py`` (``Darknet``, depth 53),
``network_blocks.py`` (``BaseConv``, ``ResLayer``, ``SPPBottleneck``) and
``exps/default/yolov3.py``. Module layout, index for index, of Megvii's
``Darknet`` (so the checkpoint converts by renaming only); the stage names
follow our :class:`~yolox_mm.models.CSPDarknet` (``stem``, ``stage1`` ..
``stage4`` for Megvii's ``stem``, ``dark2`` .. ``dark5``), and a residual
block's two convs are ``conv1``/``conv2`` (Megvii ``layer1``/``layer2``).
"""
from typing import Optional, Sequence

from torch import Tensor, nn

from yolox_mm.registry import MODELS
from ..layers import ConvBNAct
from ..layers.conv import DEFAULT_NORM_CFG
from .csp_darknet import KAIMING_INIT, SPPBottleneck
from .staged_backbone import StagedBackbone

#: Darknet's activation: LeakyReLU with slope 0.1 (Megvii ``lrelu``).
LEAKY_RELU = dict(type='LeakyReLU')


class ResLayer(nn.Module):
    """Darknet residual block: ``x + conv2(conv1(x))`` with ``conv1`` a 1x1
    :class:`ConvBNAct` to ``C / 2`` and ``conv2`` a 3x3 back to ``C``
    (Megvii ``network_blocks.py`` ``ResLayer``).

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self,
                 channels: int,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: Optional[dict] = LEAKY_RELU) -> None:
        super().__init__()
        mid = channels // 2
        cfgs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvBNAct(channels, mid, 1, **cfgs)
        self.conv2 = ConvBNAct(mid, channels, 3, **cfgs)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.conv1(x))


def spp_block(channels: Sequence[int], in_channels: int,
              cfgs: dict) -> list:
    """The five layers Megvii appends to ``dark5`` (``make_spp_block``):
    1x1 -> ``c0``, 3x3 -> ``c1``, SPP (5, 9, 13) ``c1`` -> ``c0``, 3x3 ->
    ``c1``, 1x1 -> ``c0`` with ``(c0, c1) = channels`` (512, 1024)."""
    c0, c1 = channels
    return [
        ConvBNAct(in_channels, c0, 1, **cfgs),
        ConvBNAct(c0, c1, 3, **cfgs),
        SPPBottleneck(c1, c0, (5, 9, 13), **cfgs),
        ConvBNAct(c0, c1, 3, **cfgs),
        ConvBNAct(c1, c0, 1, **cfgs),
    ]


@MODELS.register_module()
class Darknet(StagedBackbone):
    """Darknet-53 with Megvii's SPP block at the end (YOLOX-DarkNet53).

    ::

        stem    3x3 conv 3->32, 3x3/2 conv ->64, 1 ResLayer  stride 2
        stage1  3x3/2 conv ->128,  2 ResLayers               stride 4
        stage2  3x3/2 conv ->256,  8 ResLayers               stride 8 (out 2)
        stage3  3x3/2 conv ->512,  8 ResLayers               stride 16 (out 3)
        stage4  3x3/2 conv ->1024, 4 ResLayers, then 1x1 ->512, 3x3 ->1024,
                SPP(5, 9, 13) ->512, 3x3 ->1024, 1x1 ->512   stride 32 (out 4)

    Every conv is ``Conv2d(bias=False) -> BN(eps 1e-3, momentum 0.03) ->
    LeakyReLU(0.1)`` (Megvii ``BaseConv(act='lrelu')``; BN settings of
    ``exps/default/yolov3.py``). Output channels at ``out_indices`` (2, 3,
    4): 256, 512, 512. 52,651,744 parameters.

    Args:
        depth (int): Only 53 (blocks per stage ``[2, 8, 8, 4]``; Megvii's
            Darknet-21 ``[1, 2, 2, 1]`` is accepted as 21).
        out_indices (Sequence[int]): Outputs to return; 0 is the stem,
            1..4 the stages. Defaults to (2, 3, 4) (strides 8, 16, 32).
        stem_channels (int): Output channels of the first conv; the stages
            have 2, 4, ... 32 times as many. Defaults to 32.
        frozen_stages (int): Freeze the stem and stages ``<=`` this index
            (eval mode, no grad); -1 freezes nothing. Defaults to -1.
        norm_cfg (dict): Defaults to BN eps 1e-3, momentum 0.03.
        act_cfg (dict): Defaults to ``LeakyReLU`` (slope 0.1).
        norm_eval (bool): Keep BN layers in eval mode while training.
            Defaults to False (YOLOX trains from scratch).
        init_cfg (dict): Defaults to mmdet's Kaiming-uniform conv init (the
            PyTorch default, as Megvii).

    Shapes: ``(N, 3, H, W)`` (BGR, 0-255, H and W multiples of 32) -> a
    tuple of ``(N, C_i, H / s_i, W / s_i)``.

    Raises:
        ValueError: for another ``depth``, ``out_indices`` outside 0..4 or
            ``frozen_stages`` outside -1..4.
    """

    depth2blocks = {21: (1, 2, 2, 1), 53: (2, 8, 8, 4)}

    def __init__(self,
                 depth: int = 53,
                 out_indices: Sequence[int] = (2, 3, 4),
                 stem_channels: int = 32,
                 frozen_stages: int = -1,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: dict = LEAKY_RELU,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = KAIMING_INIT) -> None:
        super().__init__(init_cfg)
        if depth not in self.depth2blocks:
            raise ValueError('depth must be one of '
                             f'{sorted(self.depth2blocks)}, got {depth!r}')
        if not set(out_indices) <= set(range(5)):
            raise ValueError(f'out_indices must be in 0..4, got '
                             f'{tuple(out_indices)}')
        if frozen_stages not in range(-1, 5):
            raise ValueError(f'frozen_stages must be in -1..4, got '
                             f'{frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        cfgs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)

        def group(c_in: int, num_blocks: int) -> list:
            return [ConvBNAct(c_in, 2 * c_in, 3, stride=2, **cfgs),
                    *(ResLayer(2 * c_in, **cfgs) for _ in range(num_blocks))]

        self.stem = nn.Sequential(
            ConvBNAct(3, stem_channels, 3, **cfgs), *group(stem_channels, 1))
        self.layers = ['stem']
        c_in = 2 * stem_channels
        blocks = self.depth2blocks[depth]
        for i, num_blocks in enumerate(blocks):
            layers = group(c_in, num_blocks)
            if i == len(blocks) - 1:
                layers += spp_block((c_in, 2 * c_in), 2 * c_in, cfgs)
            self.add_module(f'stage{i + 1}', nn.Sequential(*layers))
            self.layers.append(f'stage{i + 1}')
            c_in *= 2
