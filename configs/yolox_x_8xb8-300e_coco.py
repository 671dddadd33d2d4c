# YOLOX-X: depth 1.33, width 1.25; 99,071,455 parameters at 80 classes.
_base_ = './yolox_l_8xb8-300e_coco.py'

model = dict(
    backbone=dict(deepen_factor=1.33, widen_factor=1.25),
    neck=dict(
        in_channels=[320, 640, 1280], out_channels=320, num_csp_blocks=4),
    bbox_head=dict(in_channels=320, feat_channels=320))
