# YOLOX-S: depth 0.33, width 0.5; 8,968,255 parameters at 80 classes.
# Weaker augmentation for the small models (paper section 3, "Model size
# and data augmentation": no MixUp, mosaic scale 0.5-1.5 for S, Tiny and
# Nano). Megvii's exps/default/yolox_s.py keeps the large-model augmentation;
# to train that way, use the train_pipeline of yolox_l_8xb8-300e_coco.py.
_base_ = './yolox_l_8xb8-300e_coco.py'

model = dict(
    backbone=dict(deepen_factor=0.33, widen_factor=0.5),
    neck=dict(in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1),
    bbox_head=dict(in_channels=128, feat_channels=128))

img_scale = (640, 640)  # width, height
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
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
