"""YOLOX PAFPN neck (Megvii ``yolox/models/yolo_pafpn.py`` ``YOLOPAFPN``
plus the head's 1x1 ``stems``, which mmdet moved into the neck as
``out_convs``). Module names follow mmdet 3.x so its checkpoints load
unchanged.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from yolox_mm.registry import MODELS
from ..backbones.csp_darknet import KAIMING_INIT
from ..layers import CSPLayer, ConvBNAct, conv_class
from ..layers.conv import DEFAULT_ACT_CFG, DEFAULT_NORM_CFG


@MODELS.register_module()
class YOLOXPAFPN(BaseModule):
    """Path aggregation FPN of YOLOX.

    For three inputs ``C3, C4, C5`` (strides 8, 16, 32, channels
    ``in_channels``)::

        top-down:   P5' = reduce_layers[0](C5)                  (1x1, c5->c4)
                    P4  = top_down_blocks[0](cat[up(P5'), C4])   (CSP, ->c4)
                    P4' = reduce_layers[1](P4)                  (1x1, c4->c3)
                    N3  = top_down_blocks[1](cat[up(P4'), C3])   (CSP, ->c3)
        bottom-up:  N4  = bottom_up_blocks[0](cat[downsamples[0](N3), P4'])
                    N5  = bottom_up_blocks[1](cat[downsamples[1](N4), P5'])
        outputs:    out_convs[i](N_i)                           (1x1, ->out)

    The bottom-up path concatenates the *reduced* maps ``P4'`` and ``P5'``
    (Megvii ``fpn_out1``/``fpn_out0``), not the CSP outputs. Upsampling is
    nearest x2.

    Args:
        in_channels (Sequence[int]): Channels of the inputs, already widened
            (e.g. ``[128, 256, 512]`` for YOLOX-s).
        out_channels (int): Channels of every output (the head width).
        num_csp_blocks (int): Bottlenecks per CSP layer
            (``round(3 * deepen_factor)``). Defaults to 3.
        use_depthwise (bool): Depthwise-separable 3x3 convs (nano).
            Defaults to False.
        upsample_cfg (dict): ``F.interpolate`` arguments. Defaults to
            ``dict(scale_factor=2, mode='nearest')``.
        norm_cfg (dict), act_cfg (dict): As in the backbone.
        init_cfg (dict): Defaults to mmdet's Kaiming-uniform conv init.

    Raises:
        ValueError: in forward, if the number of inputs is not
            ``len(in_channels)``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int,
                 num_csp_blocks: int = 3,
                 use_depthwise: bool = False,
                 upsample_cfg: dict = dict(scale_factor=2, mode='nearest'),
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: dict = DEFAULT_ACT_CFG,
                 init_cfg: Optional[dict] = KAIMING_INIT) -> None:
        super().__init__(init_cfg)
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        self.upsample_cfg = dict(upsample_cfg)
        cfgs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        down_conv = conv_class(use_depthwise)
        csp = dict(num_blocks=num_csp_blocks, add_identity=False,
                   use_depthwise=use_depthwise, **cfgs)
        n = len(self.in_channels)

        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for idx in range(n - 1, 0, -1):  # deepest level first
            c_hi, c_lo = self.in_channels[idx], self.in_channels[idx - 1]
            self.reduce_layers.append(ConvBNAct(c_hi, c_lo, 1, **cfgs))
            self.top_down_blocks.append(CSPLayer(c_lo * 2, c_lo, **csp))

        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for idx in range(n - 1):
            c_lo, c_hi = self.in_channels[idx], self.in_channels[idx + 1]
            self.downsamples.append(down_conv(c_lo, c_lo, 3, stride=2,
                                              **cfgs))
            self.bottom_up_blocks.append(CSPLayer(c_lo * 2, c_hi, **csp))

        self.out_convs = nn.ModuleList(
            ConvBNAct(c, out_channels, 1, **cfgs) for c in self.in_channels)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Args: ``inputs``, one ``(N, in_channels[i], H_i, W_i)`` map per
        level, finest first. Returns one ``(N, out_channels, H_i, W_i)`` map
        per level, finest first."""
        n = len(self.in_channels)
        if len(inputs) != n:
            raise ValueError(f'YOLOXPAFPN expects {n} feature maps, got '
                             f'{len(inputs)}')
        # top-down: reduced[i] is the 1x1-reduced map of level i (i >= 1)
        reduced = [None] * n
        top_down = [None] * n
        top_down[n - 1] = inputs[n - 1]
        for j, idx in enumerate(range(n - 1, 0, -1)):
            reduced[idx] = self.reduce_layers[j](top_down[idx])
            up = F.interpolate(reduced[idx], **self.upsample_cfg)
            top_down[idx - 1] = self.top_down_blocks[j](
                torch.cat([up, inputs[idx - 1]], dim=1))
        # bottom-up
        outs = [top_down[0]]
        for idx in range(n - 1):
            down = self.downsamples[idx](outs[-1])
            outs.append(self.bottom_up_blocks[idx](
                torch.cat([down, reduced[idx + 1]], dim=1)))
        return tuple(conv(x) for conv, x in zip(self.out_convs, outs))
