"""Convolution bricks of YOLOX: Conv2d + BatchNorm + SiLU.

The attribute names (``conv``, ``bn``, ``depthwise_conv``,
``pointwise_conv``) are those of mmcv's ``ConvModule`` and
``DepthwiseSeparableConvModule``, so mmdet 3.x YOLOX checkpoints load into our
modules key for key. The modules themselves are leaner: one fused SiLU kernel
(:class:`SiLU`, in place when no autograd graph is recorded) instead of
mmcv's out-of-place ``Swish`` (``x * sigmoid(x)``, two kernels and an extra
activation buffer), and :meth:`ConvBNAct.fuse` folds the BatchNorm into the
convolution for inference.

Reference: ``BaseConv``/``DWConv`` in Megvii ``yolox/models/network_blocks.py``;
BN ``eps=1e-3, momentum=0.03`` from ``yolox/exp/yolox_base.py`` (``init_yolo``).
"""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: BatchNorm settings of the published YOLOX models.
DEFAULT_NORM_CFG = dict(type='BN', momentum=0.03, eps=1e-3)
DEFAULT_ACT_CFG = dict(type='SiLU')

_NORMS = {
    'BN': nn.BatchNorm2d,
    'BN2d': nn.BatchNorm2d,
    'SyncBN': nn.SyncBatchNorm,
}


class SiLU(nn.SiLU):
    """``x * sigmoid(x)`` in one kernel, in place when that is free.

    Args:
        inplace (bool, optional): ``None`` (default): in place (``silu_``)
            only when autograd records no graph through ``x``
            (``torch.no_grad``/``inference_mode``, or ``x`` not requiring
            grad); then it saves an output buffer. When a graph is
            recorded, autograd would have to save a copy of the input of an
            in-place SiLU for its backward (an extra ``copy_`` of every
            activation), so it runs out of place: -3.5 % (profile) to
            -6.4 % (A/B run) per training iteration of YOLOX-s 640
            (docs/benchmarks.md). ``True``/``False``: always / never in
            place, as ``nn.SiLU(inplace)``.

    Same values either way. No parameters: the state_dict is unchanged.
    ``repr``: ``SiLU(inplace=auto)`` for the default.
    """

    def __init__(self, inplace: Optional[bool] = None) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        inplace = self.inplace
        if inplace is None:
            inplace = not (torch.is_grad_enabled() and x.requires_grad)
        return F.silu(x, inplace=inplace)

    def extra_repr(self) -> str:
        return f'inplace={"auto" if self.inplace is None else self.inplace}'


_ACTIVATIONS = {
    'SiLU': SiLU,
    'Swish': SiLU,  # mmdet's name for x*sigmoid(x)
    'ReLU': lambda: nn.ReLU(inplace=True),
    'LeakyReLU': lambda: nn.LeakyReLU(0.1, inplace=True),
    'Identity': nn.Identity,
}


def build_activation(act_cfg: Optional[Union[dict, str]]) -> nn.Module:
    """Build an activation from ``dict(type=NAME)`` (or ``NAME``), NAME in
    ``'SiLU'``, ``'Swish'`` (mmdet's name for the same function), ``'ReLU'``,
    ``'LeakyReLU'``, ``'Identity'``; None gives identity.

    Raises:
        ValueError: for any other name.
    """
    act = act_cfg.get('type') if isinstance(act_cfg, dict) else act_cfg
    if act is None:
        act = 'Identity'
    if act not in _ACTIVATIONS:
        raise ValueError(f'act_cfg type must be one of {sorted(_ACTIVATIONS)}'
                         f' or None, got {act_cfg!r}')
    return _ACTIVATIONS[act]()


def build_norm(norm_cfg: dict, num_features: int) -> nn.Module:
    """Build a batch norm from ``dict(type='BN' | 'SyncBN', eps=...,
    momentum=..., requires_grad=...)`` (mmcv's ``norm_cfg`` spelling).

    ``requires_grad`` (default True) is set on the norm's parameters
    (``weight``, ``bias``), as mmcv's ``build_norm_layer`` does: False
    freezes the affine transform (the running statistics still update in
    train mode).

    Raises:
        ValueError: for another ``type`` (YOLOX only uses batch norm; the
            ``bn`` attribute name of our modules assumes it).
    """
    cfg = dict(norm_cfg)
    norm_type = cfg.pop('type', 'BN')
    requires_grad = cfg.pop('requires_grad', True)
    if norm_type not in _NORMS:
        raise ValueError(f'norm_cfg type must be one of {sorted(_NORMS)}, '
                         f'got {norm_cfg!r}')
    norm = _NORMS[norm_type](num_features, **cfg)
    for param in norm.parameters():
        param.requires_grad = requires_grad
    return norm


class ConvBNAct(nn.Module):
    """``Conv2d(bias=False) -> BatchNorm2d -> activation``, 'same' padding.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Square kernel size; padding is
            ``(kernel_size - 1) // 2``.
        stride (int): Stride. Defaults to 1.
        groups (int): Convolution groups. Defaults to 1.
        norm_cfg (dict): See :func:`build_norm`. Defaults to
            ``dict(type='BN', momentum=0.03, eps=1e-3)``.
        act_cfg (dict, optional): See :func:`build_activation`. Defaults to
            ``dict(type='SiLU')``.

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H / stride,
    W / stride)``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 groups: int = 1,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: Optional[dict] = DEFAULT_ACT_CFG) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(kernel_size - 1) // 2,
            groups=groups,
            bias=False)
        self.bn = build_norm(norm_cfg, out_channels)
        self.activate = build_activation(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        if self.bn is None:  # fused
            return self.activate(self.conv(x))
        return self.activate(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the BatchNorm (eval statistics) into the convolution.

        Afterwards the module computes ``act(conv'(x))`` with
        ``conv'.weight = w * gamma / sqrt(var + eps)`` and
        ``conv'.bias = beta - mean * gamma / sqrt(var + eps)``: the same
        function as the unfused module in eval mode, one kernel less. Only
        for inference: the BN statistics are gone, and the state_dict keys
        change (``bn.*`` removed, ``conv.bias`` added).
        """
        if self.bn is None:
            return
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv = self.conv
        fused = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            groups=conv.groups,
            bias=True).to(conv.weight.device, conv.weight.dtype)
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        self.conv = fused
        self.bn = None


class DepthwiseSeparableConv(nn.Module):
    """Depthwise ``k x k`` :class:`ConvBNAct` then pointwise ``1 x 1``
    :class:`ConvBNAct` (Megvii ``DWConv``; used by YOLOX-nano).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Depthwise kernel size.
        stride (int): Depthwise stride. Defaults to 1.
        norm_cfg (dict), act_cfg (dict, optional): As in :class:`ConvBNAct`,
            for both convolutions.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 act_cfg: Optional[dict] = DEFAULT_ACT_CFG) -> None:
        super().__init__()
        self.depthwise_conv = ConvBNAct(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            groups=in_channels,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.pointwise_conv = ConvBNAct(
            in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


def conv_class(depthwise: bool) -> type:
    """The 3x3 convolution class of a scale (a class, not a module):
    :class:`DepthwiseSeparableConv` when ``depthwise`` (nano), else
    :class:`ConvBNAct`. Both take ``(in_channels, out_channels,
    kernel_size, stride=1, norm_cfg=..., act_cfg=...)``."""
    return DepthwiseSeparableConv if depthwise else ConvBNAct


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every :class:`ConvBNAct`'s BatchNorm into its convolution, in
    place, for inference (see :meth:`ConvBNAct.fuse`). Returns ``model`` in
    eval mode."""
    model.eval()
    for module in model.modules():
        if isinstance(module, ConvBNAct):
            module.fuse()
    return model


def optimize_for_inference(model: nn.Module,
                           fold_bn: bool = True,
                           channels_last: bool = False) -> nn.Module:
    """The inference switches of a yolox_mm detector, in place; all off
    unless asked for. Used by ``tools/test.py --fuse-conv-bn
    --channels-last`` and the benchmark's section e.

    Args:
        model (nn.Module): A detector (or any module holding
            :class:`ConvBNAct` blocks).
        fold_bn (bool): Fold every BatchNorm into its convolution
            (:func:`fuse_conv_bn`): one kernel less per conv. Irreversible
            (the BN modules are gone), so only for a model that will not be
            trained again. Defaults to True.
        channels_last (bool): Store the parameters (and so the activations:
            oneDNN convolutions follow the weights' format) as NHWC
            (``torch.channels_last``). The same function; the convolutions
            run other kernels, so outputs change by float rounding only
            (measured on YOLOX-s 640 / nano 416, fused: largest difference
            of the raw head outputs 0.9e-4 / 2.8e-4 of their range, the same
            order as what folding itself changes, 0.9e-4 / 4.1e-4). Measured
            latency at batch 1, 1 thread, fused model: -11 % (YOLOX-s 640)
            and -18 % (nano 416) (docs/benchmarks.md, section e). It makes
            training slower; ``model.to(memory_format=
            torch.contiguous_format)`` undoes it. Defaults to False.

    Returns:
        nn.Module: ``model``, in eval mode.
    """
    model.eval()
    if fold_bn:
        fuse_conv_bn(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
