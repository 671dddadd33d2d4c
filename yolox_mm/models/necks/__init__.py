from .yolo_fpn import YOLOFPN
from .yolox_pafpn import YOLOXPAFPN

__all__ = ['YOLOXPAFPN', 'YOLOFPN']
