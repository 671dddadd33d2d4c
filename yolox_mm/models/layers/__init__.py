from .conv import (ConvBNAct, DepthwiseSeparableConv, SiLU,
                   build_activation, build_norm, conv_class,
                   fuse_conv_bn, optimize_for_inference)
from .csp_layer import CSPLayer, DarknetBottleneck

__all__ = [
    'ConvBNAct', 'DepthwiseSeparableConv', 'SiLU', 'build_activation',
    'build_norm', 'conv_class', 'fuse_conv_bn',
    'optimize_for_inference', 'CSPLayer', 'DarknetBottleneck'
]
