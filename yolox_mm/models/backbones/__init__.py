from .csp_darknet import CSPDarknet, Focus, SPPBottleneck
from .darknet import Darknet, ResLayer
from .staged_backbone import StagedBackbone

__all__ = [
    'CSPDarknet', 'Focus', 'SPPBottleneck', 'Darknet', 'ResLayer',
    'StagedBackbone'
]
