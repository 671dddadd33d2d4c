# YOLOX-S on your own data: a template (docs/custom_dataset.md). Copy it
# into this folder, set the lines of the first block, train:
#   python tools/dataset_converters/to_coco.py voc --train raw/train \
#       --val raw/val --out-dir data/mydata    # prints data_root, classes
#   python tools/train.py my_config.py
#   python tools/test.py my_config.py work_dirs/my_config/best_*.pth
# Expects data_root/annotations/{train,val}.json with file_name relative to
# data_root (what to_coco.py writes). One GPU, batch 8; 100 epochs for a
# few hundred to a few thousand images.
# ==== Frequently modified ====
# the scale: ../yolox_{nano,tiny,s,m,l,x}_8xb8-300e_coco.py (the pipelines
# below are those of nano, tiny and s: no MixUp)
_base_ = '../yolox_s_8xb8-300e_coco.py'
data_root = 'data/custom/'
classes = ('class_a', 'class_b')  # label order: category ids 1, 2, ...
img_scale = (640, 640)  # (w, h) canvas; a multiple of 32
batch_size = 8
max_epochs = 100
num_last_epochs = 10  # last epochs without Mosaic, with the L1 loss
warmup_epochs = 3
val_interval = 10
base_lr = 0.01 * batch_size / 64  # the paper's lr 0.01 per 64 images
# Fine-tuning from COCO weights (another number of classes): drop their
# class layers once with tools/model_converters/drop_head.py, then e.g.
# load_from = 'yolox_s_coco_nohead.pth'
load_from = None
# ==== End of frequently modified ====

metainfo = dict(classes=classes)
model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(
            type='BatchSyncRandomResize',
            # multi-scale training at 0.75-1.25 x the canvas (480-800 at 640)
            random_size_range=(img_scale[0] * 3 // 4, img_scale[0] * 5 // 4),
            size_divisor=32,
            interval=10)
    ]),
    bbox_head=dict(num_classes=len(classes)))

# the pipelines of the base config at this canvas
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
    num_workers=2,
    dataset=dict(
        dataset=dict(
            data_root=data_root,
            metainfo=metainfo,
            ann_file='annotations/train.json',
            data_prefix=dict(img='')),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img=''),
        pipeline=test_pipeline))
test_dataloader = val_dataloader  # or a test split: annotations/test.json
val_evaluator = dict(
    ann_file=data_root + 'annotations/val.json', classwise=True)
test_evaluator = val_evaluator

train_cfg = dict(
    max_epochs=max_epochs,
    val_interval=val_interval,
    dynamic_intervals=[(max_epochs - num_last_epochs, 1)])
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
    dict(type='DeterministicResumeHook')
]
default_hooks = dict(
    checkpoint=dict(
        interval=val_interval, max_keep_ckpts=2, save_best='coco/bbox_mAP'))
auto_scale_lr = dict(base_batch_size=batch_size)
