"""YOLOv3 FPN neck of YOLOX-DarkNet53 (Megvii ``yolox/models/yolo_fpn.py``
``YOLOFPN``, minus its backbone) plus the head's 1x1 ``stems`` as
``out_convs``, the convention of our :class:`YOLOXPAFPN` (mmdet moved the
stems into the neck).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from yolox_mm.registry import MODELS
from ..backbones.csp_darknet import KAIMING_INIT
from ..backbones.darknet import LEAKY_RELU
from ..layers import ConvBNAct
from ..layers.conv import DEFAULT_NORM_CFG


def embedding(in_channels: int, channels: Sequence[int],
              cfgs: dict) -> nn.Sequential:
    """Five alternating convs 1x1 -> ``c0``, 3x3 -> ``c1``, 1x1 -> ``c0``,
    3x3 -> ``c1``, 1x1 -> ``c0`` (Megvii ``YOLOFPN._make_embedding``)."""
    c0, c1 = channels
    return nn.Sequential(
        ConvBNAct(in_channels, c0, 1, **cfgs), ConvBNAct(c0, c1, 3, **cfgs),
        ConvBNAct(c1, c0, 1, **cfgs), ConvBNAct(c0, c1, 3, **cfgs),
        ConvBNAct(c1, c0, 1, **cfgs))


@MODELS.register_module()
class YOLOFPN(BaseModule):
    """Top-down FPN of YOLOv3 as used by YOLOX-DarkNet53.

    For inputs ``C3, C4, C5`` (strides 8, 16, 32; channels 256, 512, 512
    from :class:`~yolox_mm.models.backbones.darknet.Darknet`)::

        P5 = C5                                                    (512)
        P4 = detect_blocks[0](cat[up(lateral_convs[0](P5)), C4])  (256)
        P3 = detect_blocks[1](cat[up(lateral_convs[1](P4)), C3])  (128)
        outputs: out_convs[i](P_i)   1x1 -> out_channels, finest first

    ``lateral_convs[i]`` are 1x1 convs halving the channels (Megvii
    ``out1_cbl``, ``out2_cbl``), ``up`` is nearest x2 (``upsample``), the
    ``detect_blocks`` five alternating 1x1/3x3 convs (``out1``, ``out2``)
    and ``out_convs`` the head's 1x1 ``stems`` (Megvii ``head.stems``).
    All convs are ``Conv2d -> BN -> act``; act LeakyReLU(0.1) (Megvii
    hard-codes ``lrelu``). 3,692,544 parameters without ``out_convs``
    (Megvii's ``YOLOFPN`` minus ``Darknet``).

    Args:
        in_channels (Sequence[int]): ``[C3, C4, C5]`` channels. Defaults to
            ``(256, 512, 512)``.
        out_channels (int): Channels of every output (head width).
            Defaults to 256.
        norm_cfg (dict), act_cfg (dict): As in the backbone.
        init_cfg (dict): Defaults to mmdet's Kaiming-uniform conv init.

    Raises:
        ValueError: for a number of ``in_channels`` other than 3; in
            forward, if the number of inputs is not 3.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 512),
                 out_channels: int = 256,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: dict = LEAKY_RELU,
                 init_cfg: Optional[dict] = KAIMING_INIT) -> None:
        super().__init__(init_cfg)
        if len(in_channels) != 3:
            raise ValueError('YOLOFPN takes three levels, got in_channels='
                             f'{tuple(in_channels)}')
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        cfgs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        c3, c4, c5 = self.in_channels
        self.lateral_convs = nn.ModuleList([
            ConvBNAct(c5, c5 // 2, 1, **cfgs),
            ConvBNAct(c4 // 2, c4 // 4, 1, **cfgs)
        ])
        self.detect_blocks = nn.ModuleList([
            embedding(c5 // 2 + c4, (c4 // 2, c4), cfgs),
            embedding(c4 // 4 + c3, (c3 // 2, c3), cfgs)
        ])
        #: channels of the FPN outputs before ``out_convs``, finest first
        self.fpn_channels = (c3 // 2, c4 // 2, c5)
        self.out_convs = nn.ModuleList(
            ConvBNAct(c, out_channels, 1, **cfgs) for c in self.fpn_channels)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Args: ``inputs``, ``(N, in_channels[i], H_i, W_i)`` for strides
        8, 16, 32. Returns one ``(N, out_channels, H_i, W_i)`` map per
        level, finest first."""
        if len(inputs) != 3:
            raise ValueError(f'YOLOFPN expects 3 feature maps, got '
                             f'{len(inputs)}')
        c3, c4, c5 = inputs
        outs = [c5]
        for lateral, detect, skip in zip(self.lateral_convs,
                                         self.detect_blocks, (c4, c3)):
            up = F.interpolate(lateral(outs[-1]), scale_factor=2,
                               mode='nearest')
            outs.append(detect(torch.cat([up, skip], dim=1)))
        outs = outs[::-1]  # P3, P4, P5
        return tuple(conv(x) for conv, x in zip(self.out_convs, outs))
