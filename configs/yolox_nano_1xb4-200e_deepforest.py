# YOLOX-Nano on the DeepForest tree-crown tiles (one class, `tree`), sized
# for a 2-core CPU: the main job of the README (`make trees`).
# Data: tools/dataset_converters/deepforest_to_coco.py -> data/deepforest/
# (train: 34 tiles / 558 boxes of one aerial image; val: 11 tiles / 360
# boxes of three others; boxes 8-107 px).
# What differs from yolox_nano_8xb8-300e_coco.py is set in the first block;
# the rest derives the fields that depend on it (the schedule, the
# mode-switch hook, the pipelines at the canvas).
_base_ = './yolox_nano_8xb8-300e_coco.py'
from yolox_mm.utils.config_deltas import (  # noqa: E402
    set_fields, with_canvas, yolox_lr_schedule)

data_root = 'data/deepforest/'
metainfo = dict(classes=('tree', ), palette=[(0, 200, 0)])
img_scale = (416, 416)  # width, height
batch_size = 4
max_epochs = 200
num_last_epochs = 15  # the last epochs: no Mosaic, L1 loss, constant lr
warmup_epochs = 3
base_lr = 0.04  # 0.02 before 2026-12-02 (docs/tree_recipe.md)
# evaluate and save every 50 epochs (the mAP curve of `make pictures`);
# evaluations do not change training: DeterministicResumeHook reseeds every
# epoch
val_interval = 50

model = dict(
    data_preprocessor=dict(batch_augments=set_fields(
        _base_.model.data_preprocessor.batch_augments,
        'BatchSyncRandomResize', random_size_range=(352, 480))),
    bbox_head=dict(num_classes=1),
    # trees are dense: keep up to 300 boxes an image, score threshold 0.001
    # as in COCO evaluation; NMS at IoU 0.5 (better than 0.65 on 7 of 7
    # tree checkpoints, docs/tree_recipe.md)
    test_cfg=dict(
        score_thr=0.001, max_per_img=300,
        nms=dict(type='nms', iou_threshold=0.5)))

# Mosaic on every image (prob 1.0, not the nano base's 0.5) and a narrower
# scale range: the augmentation this job was tuned and recorded with
train_pipeline = set_fields(_base_.train_pipeline, 'Mosaic', prob=1.0)
train_pipeline = set_fields(
    train_pipeline, 'RandomAffine', scaling_ratio_range=(0.75, 1.25))
train_pipeline = with_canvas(train_pipeline, img_scale)
test_pipeline = with_canvas(_base_.test_pipeline, img_scale)

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        # 34 decoded tiles (16 MB): decode once, not 4 times a sample
        cache_images=True,
        dataset=dict(
            data_root=data_root,
            metainfo=metainfo,
            ann_file='annotations/train.json',
            data_prefix=dict(img='images/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=0)),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

train_cfg = dict(
    max_epochs=max_epochs, val_interval=val_interval, dynamic_intervals=None)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = yolox_lr_schedule(max_epochs, num_last_epochs, warmup_epochs,
                                    base_lr)
# NHWC weights: the same model, 1.23x faster an iteration on a 2-core Intel
# VM (docs/tree_recipe.md); results differ from NCHW by float rounding
custom_hooks = set_fields(_base_.custom_hooks, 'YOLOXModeSwitchHook',
                          num_last_epochs=num_last_epochs) + [
                              dict(type='ChannelsLastHook')]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=val_interval, max_keep_ckpts=1, save_last=True))
auto_scale_lr = dict(enable=False)
# a fixed seed makes `make trees` repeatable on a given machine
randomness = dict(seed=0)
