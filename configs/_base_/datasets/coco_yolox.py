# COCO 2017 for YOLOX at a 640 x 640 canvas with the strong augmentation of
# the large models (Mosaic, RandomAffine scale 0.1-2, MixUp 0.8-1.6; Megvii
# yolox_base.py of the published weights). Expected layout:
#   data/coco/annotations/instances_{train,val}2017.json
#   data/coco/{train,val}2017/*.jpg
data_root = 'data/coco/'
# mmdet's CocoDataset plus checks: malformed json raises naming the entry,
# unusable boxes (NaN/inf, w or h <= 0, outside the image) are dropped and
# counted in the log, missing image files stop the run at start-up
# (docs/reliability.md)
dataset_type = 'CheckedCocoDataset'
backend_args = None
img_scale = (640, 640)  # width, height

train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(
        type='RandomAffine',
        scaling_ratio_range=(0.1, 2),
        border=(-img_scale[0] // 2, -img_scale[1] // 2)),  # (w, h)
    dict(
        type='MixUp',
        img_scale=img_scale,
        ratio_range=(0.8, 1.6),
        pad_val=114.0),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    # Resize and Pad matter in the last epochs, when YOLOXModeSwitchHook
    # skips Mosaic, RandomAffine and MixUp.
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, ) * 3)),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]

# mmcv's loader by its name: mmdet's DetInferencer (demo/image_demo.py)
# looks it up as 'LoadImageFromFile' in the test pipeline
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, ) * 3)),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # mmengine's pseudo_collate; in a worker the batch's tensors then share
    # one shared-memory buffer per dtype (3 descriptors a batch, not 5 a
    # sample; the same values). mmdet's derived config: pseudo_collate
    collate_fn=dict(type='yolox_mm.shared_pseudo_collate'),
    dataset=dict(
        # our lean MultiImageMixDataset: no deep copies, and the mode switch
        # reaches persistent workers without respawning them
        type='YOLOXMixImageDataset',
        # True: run train_pipeline through its fused equivalent (one warp
        # per source image; the same draws and boxes, pixels within
        # interpolation; ~1.5x the samples/s). Opt-in: on the tree job it
        # trained worse on 6 of 6 seeds although the samples are the same
        # (docs/fused_pipeline.md)
        fuse=False,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            pipeline=[
                # names the file and image id when it cannot be loaded
                dict(
                    type='CheckedLoadImageFromFile',
                    backend_args=backend_args),
                dict(type='LoadAnnotations', with_bbox=True)
            ],
            filter_cfg=dict(filter_empty_gt=False, min_size=32),
            backend_args=backend_args),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox',
    backend_args=backend_args)
test_evaluator = val_evaluator
