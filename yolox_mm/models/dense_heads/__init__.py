from .yolox_head import (DecodedPredictions, YOLOXHead, decode_bboxes,
                         encode_l1_target)
from .yolox_pss_head import YOLOXPSSHead

__all__ = [
    'DecodedPredictions', 'YOLOXHead', 'YOLOXPSSHead', 'decode_bboxes',
    'encode_l1_target'
]
