from .backbones import CSPDarknet
from .dense_heads import YOLOXHead
from .detectors import YOLOX
from .necks import YOLOXPAFPN
from .task_modules import SimOTAAssigner

__all__ = ['CSPDarknet', 'YOLOXPAFPN', 'YOLOXHead', 'YOLOX', 'SimOTAAssigner']
