# YOLOX-Tiny: depth 0.33, width 0.375; 5,055,855 parameters at 80 classes.
# Megvii exps/default/yolox_tiny.py: 416 x 416 canvas for training and test,
# multi-scale 320-640, the small-model augmentation of yolox_s (no MixUp,
# mosaic scale 0.5-1.5).
_base_ = './yolox_l_8xb8-300e_coco.py'
from yolox_mm.utils.config_deltas import (  # noqa: E402
    drop_type, set_fields, with_canvas)

img_scale = (416, 416)  # width, height
model = dict(
    data_preprocessor=dict(batch_augments=set_fields(
        _base_.model.data_preprocessor.batch_augments,
        'BatchSyncRandomResize', random_size_range=(320, 640))),
    backbone=dict(deepen_factor=0.33, widen_factor=0.375),
    neck=dict(in_channels=[96, 192, 384], out_channels=96, num_csp_blocks=1),
    bbox_head=dict(in_channels=96, feat_channels=96))

train_pipeline = drop_type(_base_.train_pipeline, 'MixUp')
train_pipeline = set_fields(
    train_pipeline, 'RandomAffine', scaling_ratio_range=(0.5, 1.5))
train_pipeline = with_canvas(train_pipeline, img_scale)
test_pipeline = with_canvas(_base_.test_pipeline, img_scale)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
