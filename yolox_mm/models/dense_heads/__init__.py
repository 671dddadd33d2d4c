from .yolox_head import YOLOXHead, decode_bboxes, encode_l1_target
from .yolox_pss_head import YOLOXPSSHead

__all__ = ['YOLOXHead', 'YOLOXPSSHead', 'decode_bboxes', 'encode_l1_target']
