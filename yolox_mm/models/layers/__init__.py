from .conv import (ConvBNAct, DepthwiseSeparableConv, SiLU,
                   build_activation, build_conv, build_norm, fuse_conv_bn)
from .csp_layer import CSPLayer, DarknetBottleneck

__all__ = [
    'ConvBNAct', 'DepthwiseSeparableConv', 'SiLU', 'build_activation',
    'build_conv', 'build_norm', 'fuse_conv_bn', 'CSPLayer',
    'DarknetBottleneck'
]
