# End-to-end (NMS-free) YOLOX-Nano on the tree tiles: the main job's recipe
# (yolox_nano_1xb4-200e_deepforest.py, unchanged) with YOLOXPSSHead.
# Evaluation: COCO mAP without NMS, plus the duplicate rate (detections with
# score >= 0.3 whose only IoU >= 0.5 GTs are already matched).
# The same config evaluates other checkpoints for comparison:
#   a base YOLOX checkpoint without NMS:
#     --cfg-options model.test_cfg.use_pss=False
#   with NMS (IoU 0.5, the base config's): model.test_cfg.nms_free=False
_base_ = './yolox_nano_1xb4-200e_deepforest.py'

model = dict(
    bbox_head=dict(type='YOLOXPSSHead'),
    test_cfg=dict(score_thr=0.001, nms_free=True, max_per_img=300))

val_evaluator = [
    dict(type='CocoMetric', ann_file=_base_.val_evaluator.ann_file,
         metric='bbox'),
    dict(type='DuplicateRateMetric', score_thr=0.3, iou_thr=0.5)
]
test_evaluator = val_evaluator
