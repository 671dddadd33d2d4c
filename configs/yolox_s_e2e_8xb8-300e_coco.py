# End-to-end (NMS-free) YOLOX-S: yolox_s + the positive-sample selector of
# YOLOXPSSHead (+2 x (2 x (128*128*9 + 256)) + 3 x 129 per level = 886,659
# parameters; see yolox_darknet53_e2e_8xb8-300e_coco.py). The paper reports
# the end-to-end variant for DarkNet53 only (Table 2); no AP is published
# for this scale.
_base_ = './yolox_s_8xb8-300e_coco.py'

model = dict(
    bbox_head=dict(type='YOLOXPSSHead'),
    test_cfg=dict(score_thr=0.01, nms_free=True, max_per_img=100))
