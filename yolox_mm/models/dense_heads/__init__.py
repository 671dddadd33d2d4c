from .yolox_head import DecodedPredictions, YOLOXHead
from .yolox_pss_head import YOLOXPSSHead

__all__ = ['DecodedPredictions', 'YOLOXHead', 'YOLOXPSSHead']
