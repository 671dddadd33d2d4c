# YOLOX-M: depth 0.67, width 0.75; 25,326,495 parameters at 80 classes.
_base_ = './yolox_l_8xb8-300e_coco.py'

model = dict(
    backbone=dict(deepen_factor=0.67, widen_factor=0.75),
    neck=dict(in_channels=[192, 384, 768], out_channels=192, num_csp_blocks=2),
    bbox_head=dict(in_channels=192, feat_channels=192))
