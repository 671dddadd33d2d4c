# YOLOX-Nano: depth 0.33, width 0.25, depthwise-separable 3x3 convolutions;
# 912,159 parameters at 80 classes. Data as YOLOX-Tiny. Megvii's nano also
# applies Mosaic (and with it RandomAffine) to half of the images only
# (mosaic_prob 0.5); this config, like mmdet's, applies it to all.
_base_ = './yolox_tiny_8xb8-300e_coco.py'

model = dict(
    backbone=dict(widen_factor=0.25, use_depthwise=True),
    neck=dict(in_channels=[64, 128, 256], out_channels=64, use_depthwise=True),
    bbox_head=dict(in_channels=64, feat_channels=64, use_depthwise=True))
