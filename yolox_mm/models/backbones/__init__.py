from .csp_darknet import CSPDarknet, Focus, SPPBottleneck
from .darknet import Darknet, ResLayer

__all__ = ['CSPDarknet', 'Focus', 'SPPBottleneck', 'Darknet', 'ResLayer']
