# YOLOX-Nano: depth 0.33, width 0.25, depthwise-separable 3x3 convolutions;
# 912,159 parameters at 80 classes. Data as YOLOX-Tiny, except that, as in
# Megvii's exps/default/yolox_nano.py (mosaic_prob = 0.5), Mosaic (and with
# it RandomAffine) is applied to half of the images only; the other half
# only get HSV, flip, resize and pad (Megvii MosaicDetection). mmdet's nano
# config applies Mosaic to all.
_base_ = './yolox_tiny_8xb8-300e_coco.py'

model = dict(
    backbone=dict(widen_factor=0.25, use_depthwise=True),
    neck=dict(in_channels=[64, 128, 256], out_channels=64, use_depthwise=True),
    bbox_head=dict(in_channels=64, feat_channels=64, use_depthwise=True))

img_scale = (416, 416)  # width, height
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0, prob=0.5),
    dict(
        type='RandomAffine',
        scaling_ratio_range=(0.5, 1.5),
        border=(-img_scale[0] // 2, -img_scale[1] // 2)),  # (w, h)
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, ) * 3)),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
