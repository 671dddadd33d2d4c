# YOLOX-Nano on the DeepForest tree-crown tiles (one class, `tree`), sized
# for a 2-core CPU: the main job of the README (`make trees`).
# Data: tools/dataset_converters/deepforest_to_coco.py -> data/deepforest/
# (train: 34 tiles / 558 boxes of one aerial image; val: 11 tiles / 360
# boxes of three others; boxes 8-107 px).
_base_ = './yolox_nano_8xb8-300e_coco.py'

data_root = 'data/deepforest/'
metainfo = dict(classes=('tree', ), palette=[(0, 200, 0)])
img_scale = (416, 416)  # width, height

max_epochs = 200
num_last_epochs = 50
warmup_epochs = 3
base_lr = 0.01
batch_size = 4

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(
            type='BatchSyncRandomResize',
            random_size_range=(352, 480),
            size_divisor=32,
            interval=10)
    ]),
    bbox_head=dict(num_classes=1),
    # trees are dense: keep up to 300 boxes an image, score threshold 0.001
    # as in COCO evaluation
    test_cfg=dict(score_thr=0.001, max_per_img=300))

# Mosaic on every image (prob 1.0, not the nano base's 0.5): the
# augmentation this job was tuned and recorded with
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0, prob=1.0),
    dict(
        type='RandomAffine',
        scaling_ratio_range=(0.75, 1.25),
        border=(-img_scale[0] // 2, -img_scale[1] // 2)),  # (w, h)
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, ) * 3)),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, ) * 3)),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

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
    batch_size=4,
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

# evaluate every 50 epochs (the mAP curve of `make pictures`); evaluations
# do not change training: DeterministicResumeHook reseeds every epoch
train_cfg = dict(
    max_epochs=max_epochs,
    val_interval=50,
    dynamic_intervals=None)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(
        type='QuadraticWarmupLR',
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=warmup_epochs,
        T_max=max_epochs - num_last_epochs - warmup_epochs,
        end=max_epochs - num_last_epochs,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='ConstantLR',
        by_epoch=True,
        factor=1,
        begin=max_epochs - num_last_epochs,
        end=max_epochs)
]
custom_hooks = [
    dict(
        type='YOLOXModeSwitchHook',
        num_last_epochs=num_last_epochs,
        priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49),
    # reseed every epoch and keep BatchSyncRandomResize's size in the
    # checkpoint: a resumed run repeats the uninterrupted one exactly
    # (docs/distributed.md)
    dict(type='DeterministicResumeHook')
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=50, max_keep_ckpts=1, save_last=True))
auto_scale_lr = dict(enable=False)
# a fixed seed makes `make trees` repeatable on a given machine
randomness = dict(seed=0)
