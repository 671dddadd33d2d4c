# YOLOX-Nano: depth 0.33, width 0.25, depthwise-separable 3x3 convolutions;
# 912,159 parameters at 80 classes. Data as YOLOX-Tiny (416 x 416,
# multi-scale 320-640, no MixUp, mosaic scale 0.5-1.5), except that, as in
# Megvii's exps/default/yolox_nano.py (mosaic_prob = 0.5), Mosaic (and with
# it RandomAffine) is applied to half of the images only; the other half
# only get HSV, flip, resize and pad (Megvii MosaicDetection). mmdet's nano
# config applies Mosaic to all.
_base_ = './yolox_l_8xb8-300e_coco.py'
from yolox_mm.utils.config_deltas import (  # noqa: E402
    drop_type, set_fields, with_canvas)

img_scale = (416, 416)  # width, height
model = dict(
    data_preprocessor=dict(batch_augments=set_fields(
        _base_.model.data_preprocessor.batch_augments,
        'BatchSyncRandomResize', random_size_range=(320, 640))),
    backbone=dict(deepen_factor=0.33, widen_factor=0.25, use_depthwise=True),
    neck=dict(
        in_channels=[64, 128, 256],
        out_channels=64,
        num_csp_blocks=1,
        use_depthwise=True),
    bbox_head=dict(in_channels=64, feat_channels=64, use_depthwise=True))

train_pipeline = drop_type(_base_.train_pipeline, 'MixUp')
train_pipeline = set_fields(
    train_pipeline, 'RandomAffine', scaling_ratio_range=(0.5, 1.5))
train_pipeline = set_fields(train_pipeline, 'Mosaic', prob=0.5)
train_pipeline = with_canvas(train_pipeline, img_scale)
test_pipeline = with_canvas(_base_.test_pipeline, img_scale)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
