from .yolox_bbox_coder import (YOLOXBBoxCoder, best_class_scores,
                               decode_bboxes, encode_l1_target, prior_centers,
                               score_product)

__all__ = [
    'YOLOXBBoxCoder', 'best_class_scores', 'decode_bboxes',
    'encode_l1_target', 'prior_centers', 'score_product'
]
