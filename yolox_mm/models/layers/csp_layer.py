"""CSP layer of YOLOX (Cross Stage Partial block with Darknet bottlenecks).

Module names follow mmdet's ``CSPLayer`` (``main_conv``, ``short_conv``,
``final_conv``, ``blocks.K.conv1/conv2``) so mmdet checkpoints load unchanged;
Megvii calls them ``conv1``, ``conv2``, ``conv3`` and ``m.K``
(``yolox/models/network_blocks.py``: ``CSPLayer``, ``Bottleneck``).
"""
from typing import Optional

import torch
from torch import Tensor, nn

from .conv import DEFAULT_ACT_CFG, DEFAULT_NORM_CFG, ConvBNAct, conv_class


class DarknetBottleneck(nn.Module):
    """``1x1 conv -> 3x3 conv (depthwise-separable if depthwise)``, plus the
    input when ``add_identity`` and the channel counts match.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        expansion (float): Hidden channels = ``int(out_channels *
            expansion)``. Defaults to 1.0 (YOLOX's CSP blocks).
        add_identity (bool): Residual connection. Defaults to True.
        use_depthwise (bool): Depthwise-separable 3x3. Defaults to False.
        norm_cfg (dict), act_cfg (dict, optional): See
            :class:`~yolox_mm.models.layers.ConvBNAct`.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expansion: float = 1.0,
                 add_identity: bool = True,
                 use_depthwise: bool = False,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: Optional[dict] = DEFAULT_ACT_CFG) -> None:
        super().__init__()
        hidden = int(out_channels * expansion)
        cfgs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvBNAct(in_channels, hidden, 1, **cfgs)
        self.conv2 = conv_class(use_depthwise)(hidden, out_channels, 3,
                                               **cfgs)
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross Stage Partial layer.

    ::

        x -> main_conv (1x1, C/2) -> blocks (n x DarknetBottleneck) --+
        x -> short_conv (1x1, C/2) -----------------------------------+
                                  concat (main, short) -> final_conv (1x1, C)

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels ``C``.
        expand_ratio (float): Hidden channels = ``int(C * expand_ratio)``.
            Defaults to 0.5.
        num_blocks (int): Number of bottlenecks. Defaults to 1.
        add_identity (bool): Residuals inside the bottlenecks (False in the
            last backbone stage and in the neck). Defaults to True.
        use_depthwise (bool): Depthwise-separable 3x3 convs in the
            bottlenecks. Defaults to False.
        norm_cfg (dict), act_cfg (dict, optional): See
            :class:`~yolox_mm.models.layers.ConvBNAct`.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expand_ratio: float = 0.5,
                 num_blocks: int = 1,
                 add_identity: bool = True,
                 use_depthwise: bool = False,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: Optional[dict] = DEFAULT_ACT_CFG) -> None:
        super().__init__()
        mid = int(out_channels * expand_ratio)
        cfgs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.main_conv = ConvBNAct(in_channels, mid, 1, **cfgs)
        self.short_conv = ConvBNAct(in_channels, mid, 1, **cfgs)
        self.final_conv = ConvBNAct(2 * mid, out_channels, 1, **cfgs)
        self.blocks = nn.Sequential(*[
            DarknetBottleneck(mid, mid, 1.0, add_identity, use_depthwise,
                              **cfgs) for _ in range(num_blocks)
        ])

    def forward(self, x: Tensor) -> Tensor:
        x_main = self.blocks(self.main_conv(x))
        x_short = self.short_conv(x)
        return self.final_conv(torch.cat((x_main, x_short), dim=1))
