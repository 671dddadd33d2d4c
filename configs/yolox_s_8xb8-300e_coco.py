# YOLOX-S: depth 0.33, width 0.5; 8,968,255 parameters at 80 classes.
# Weaker augmentation for the small models (paper section 3, "Model size
# and data augmentation": no MixUp, mosaic scale 0.5-1.5 for S, Tiny and
# Nano). Megvii's exps/default/yolox_s.py keeps the large-model augmentation;
# to train that way, drop the train_pipeline lines below.
_base_ = './yolox_l_8xb8-300e_coco.py'
from yolox_mm.utils.config_deltas import drop_type, set_fields  # noqa: E402

model = dict(
    backbone=dict(deepen_factor=0.33, widen_factor=0.5),
    neck=dict(in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1),
    bbox_head=dict(in_channels=128, feat_channels=128))

train_pipeline = drop_type(_base_.train_pipeline, 'MixUp')
train_pipeline = set_fields(
    train_pipeline, 'RandomAffine', scaling_ratio_range=(0.5, 1.5))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
