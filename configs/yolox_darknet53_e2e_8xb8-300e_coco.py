# End-to-end (NMS-free) YOLOX-DarkNet53 (paper section 2.1 "End-to-end
# YOLO", Table 2: 46.5 AP without NMS vs 47.3 with; 67.27 M parameters).
# YOLOXPSSHead = YOLOXHead + a positive-sample selector per level (two 3x3
# conv blocks + a 1x1 conv on the detached regression features, +3,542,787
# parameters here: 67,267,554 in all), trained against a one-to-one
# assignment with SimOTA's cost; inference keeps the top max_per_img
# (prior, class) pairs, no NMS. model.test_cfg.nms_free=False compares with
# NMS (IoU 0.65).
_base_ = './yolox_darknet53_8xb8-300e_coco.py'

model = dict(
    bbox_head=dict(type='YOLOXPSSHead'),
    test_cfg=dict(score_thr=0.01, nms_free=True, max_per_img=100))
