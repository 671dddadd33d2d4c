from .yolox_head import YOLOXHead, decode_bboxes, encode_l1_target

__all__ = ['YOLOXHead', 'decode_bboxes', 'encode_l1_target']
