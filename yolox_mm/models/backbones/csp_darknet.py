"""CSPDarknet backbone of YOLOX (paper section 2.1 "YOLOX-DarkNet53" /
"Other backbones": the YOLOv5 CSPNet backbone with Focus stem, SiLU, SPP).

Reference: Megvii ``yolox/models/darknet.py`` (``CSPDarknet``) and
``network_blocks.py`` (``Focus``, ``SPPBottleneck``). Module names follow
mmdet 3.x (``stem``, ``stage1`` .. ``stage4``), so mmdet checkpoints load
unchanged; ``tools/model_converters/yolox_to_yolox_mm.py`` maps Megvii's
``dark2`` .. ``dark5``.
"""
import math
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from yolox_mm.registry import MODELS
from ..layers import CSPLayer, ConvBNAct, conv_class
from ..layers.conv import DEFAULT_ACT_CFG, DEFAULT_NORM_CFG
from .staged_backbone import StagedBackbone

#: The conv init of mmdet's YOLOX (the PyTorch default for Conv2d weights,
#: with zero biases).
KAIMING_INIT = dict(
    type='Kaiming',
    layer='Conv2d',
    a=math.sqrt(5),
    distribution='uniform',
    mode='fan_in',
    nonlinearity='leaky_relu')


class Focus(nn.Module):
    """Space-to-depth stem: ``(N, 3, H, W) -> (N, 12, H/2, W/2)`` then a
    3x3 :class:`ConvBNAct` to ``out_channels``.

    The four pixel phases are concatenated in the order of the published
    weights: top-left, bottom-left, top-right, bottom-right, i.e.
    ``x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2],
    x[..., 1::2, 1::2]`` (Megvii ``network_blocks.py`` ``Focus.forward``).
    Another order gives a different function for the same weights.

    Raises:
        ValueError: in forward, if H or W is odd.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 stride: int = 1,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: Optional[dict] = DEFAULT_ACT_CFG) -> None:
        super().__init__()
        self.conv = ConvBNAct(in_channels * 4, out_channels, kernel_size,
                              stride, norm_cfg=norm_cfg, act_cfg=act_cfg)

    @staticmethod
    def space_to_depth(x: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, 4C, H/2, W/2)`` in (TL, BL, TR, BR) order."""
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise ValueError('Focus needs an even input height and width, '
                             f'got {tuple(x.shape[-2:])} (H, W)')
        return torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2],
                          x[..., ::2, 1::2], x[..., 1::2, 1::2]), dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.space_to_depth(x))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: 1x1 conv to ``C/2``, max-pools with
    ``kernel_sizes`` (stride 1, same padding), concat ``[x, pool5, pool9,
    pool13]`` and a 1x1 conv to ``out_channels`` (Megvii
    ``network_blocks.py`` ``SPPBottleneck``).

    The three pools are computed as a cascade ``pool13 = pool5(pool9)``...
    only when exact: max-pooling with stride 1 composes
    (``pool_a(pool_b(x)) == pool_{a+b-1}(x)`` with -inf padding), so 5, 9,
    13 are computed as pool5, pool5(pool5), pool5(pool5(pool5)) (the SPPF
    identity of YOLOv5), three cheap pools instead of three large ones, same
    numbers. Other kernel sets are pooled directly.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_sizes: Sequence[int] = (5, 9, 13),
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: Optional[dict] = DEFAULT_ACT_CFG) -> None:
        super().__init__()
        mid = in_channels // 2
        self.kernel_sizes = tuple(kernel_sizes)
        self.conv1 = ConvBNAct(in_channels, mid, 1, norm_cfg=norm_cfg,
                               act_cfg=act_cfg)
        self.poolings = nn.ModuleList([
            nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
            for k in self.kernel_sizes
        ])
        self.conv2 = ConvBNAct(mid * (len(self.kernel_sizes) + 1),
                               out_channels, 1, norm_cfg=norm_cfg,
                               act_cfg=act_cfg)
        # cascade when kernels are k, 2k-1, 3k-2, ... (5, 9, 13)
        k0 = self.kernel_sizes[0]
        self._cascade = all(k == k0 + i * (k0 - 1)
                            for i, k in enumerate(self.kernel_sizes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        feats = [x]
        if self._cascade:
            pool = self.poolings[0]
            for _ in self.kernel_sizes:
                feats.append(pool(feats[-1]))
        else:
            feats.extend(pool(x) for pool in self.poolings)
        return self.conv2(torch.cat(feats, dim=1))


@MODELS.register_module()
class CSPDarknet(StagedBackbone):
    """CSP-Darknet (P5) backbone of YOLOX.

    Stages (channels before ``widen_factor``, blocks before
    ``deepen_factor``)::

        stem    Focus + 3x3 conv              3 ->   64   stride 2
        stage1  3x3/2 conv, CSP x3            64 ->  128  stride 4
        stage2  3x3/2 conv, CSP x9           128 ->  256  stride 8   (out 2)
        stage3  3x3/2 conv, CSP x9           256 ->  512  stride 16  (out 3)
        stage4  3x3/2 conv, SPP, CSP x3 (no residual)
                                             512 -> 1024  stride 32  (out 4)

    Channels are ``int(c * widen_factor)``, blocks
    ``max(round(n * deepen_factor), 1)``; for the published depths (0.33,
    0.67, 1.0, 1.33) this equals Megvii's ``3 * max(round(3 * d), 1)``.

    Args:
        deepen_factor (float): Depth multiplier. Defaults to 1.0.
        widen_factor (float): Width multiplier. Defaults to 1.0.
        out_indices (Sequence[int]): Outputs to return; 0 is the stem,
            1..4 the stages. Defaults to (2, 3, 4) (strides 8, 16, 32).
        frozen_stages (int): Freeze the stem and stages ``<=`` this index
            (eval mode, no grad); -1 freezes nothing. Defaults to -1.
        use_depthwise (bool): Depthwise-separable 3x3 convs (YOLOX-nano).
            Defaults to False.
        spp_kernel_sizes (Sequence[int]): SPP pool sizes. Defaults to
            (5, 9, 13). mmdet's misspelled ``spp_kernal_sizes`` is accepted
            too, so mmdet configs work unchanged.
        norm_cfg (dict): Norm config (BN, eps 1e-3, momentum 0.03).
        act_cfg (dict): Activation config (SiLU; ``Swish`` accepted).
        norm_eval (bool): Keep BN layers in eval mode while training.
            Defaults to False.
        init_cfg (dict): Defaults to mmdet's Kaiming-uniform conv init.

    Shapes: ``(N, 3, H, W)`` (BGR, 0-255, H and W multiples of 32) -> a
    tuple of ``(N, C_i, H / s_i, W / s_i)``.

    Raises:
        ValueError: for ``out_indices`` outside 0..4 or ``frozen_stages``
            outside -1..4.
    """

    #: in_channels, out_channels, num_blocks, add_identity, use_spp
    arch_setting = ((64, 128, 3, True, False), (128, 256, 9, True, False),
                    (256, 512, 9, True, False), (512, 1024, 3, False, True))

    def __init__(self,
                 deepen_factor: float = 1.0,
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (2, 3, 4),
                 frozen_stages: int = -1,
                 use_depthwise: bool = False,
                 spp_kernel_sizes: Sequence[int] = (5, 9, 13),
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: dict = DEFAULT_ACT_CFG,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = KAIMING_INIT,
                 spp_kernal_sizes: Optional[Sequence[int]] = None,
                 arch: str = 'P5') -> None:
        super().__init__(init_cfg)
        if arch != 'P5':
            raise ValueError(f"only arch='P5' is YOLOX, got {arch!r}")
        num_layers = len(self.arch_setting) + 1
        if not set(out_indices) <= set(range(num_layers)):
            raise ValueError(f'out_indices must be in 0..{num_layers - 1}, '
                             f'got {tuple(out_indices)}')
        if frozen_stages not in range(-1, num_layers):
            raise ValueError(f'frozen_stages must be in -1..{num_layers - 1}'
                             f', got {frozen_stages}')
        if spp_kernal_sizes is not None:
            spp_kernel_sizes = spp_kernal_sizes
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        cfgs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        down_conv = conv_class(use_depthwise)

        self.stem = Focus(3, int(64 * widen_factor), kernel_size=3, **cfgs)
        self.layers = ['stem']
        for i, (c_in, c_out, n, add_identity, use_spp) in enumerate(
                self.arch_setting):
            c_in, c_out = int(c_in * widen_factor), int(c_out * widen_factor)
            n = max(round(n * deepen_factor), 1)
            stage = [down_conv(c_in, c_out, 3, stride=2, **cfgs)]
            if use_spp:
                stage.append(
                    SPPBottleneck(c_out, c_out, spp_kernel_sizes, **cfgs))
            stage.append(
                CSPLayer(c_out, c_out, num_blocks=n,
                         add_identity=add_identity,
                         use_depthwise=use_depthwise, **cfgs))
            self.add_module(f'stage{i + 1}', nn.Sequential(*stage))
            self.layers.append(f'stage{i + 1}')
