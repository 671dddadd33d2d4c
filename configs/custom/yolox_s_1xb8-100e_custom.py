# YOLOX-S on your own data: a template (docs/custom_dataset.md). Copy it
# into this folder, set the lines of the first block, train:
#   python tools/dataset_converters/to_coco.py voc --train raw/train \
#       --val raw/val --out-dir data/mydata    # prints data_root, classes
#   python tools/train.py my_config.py
#   python tools/test.py my_config.py work_dirs/my_config/best_*.pth
# Expects data_root/annotations/{train,val}.json with file_name relative to
# data_root (what to_coco.py writes). One GPU, batch 8; 100 epochs for a
# few hundred to a few thousand images.
# The lines after the first block derive what depends on it (pipelines at
# img_scale, the lr schedule, the last-epochs hook): edit the block only.
# ==== Frequently modified ====
# the scale: ../yolox_{nano,tiny,s,m,l,x}_8xb8-300e_coco.py (its pipelines
# are used at img_scale: no MixUp for nano, tiny and s)
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
from yolox_mm.utils.config_deltas import (  # noqa: E402
    set_fields, with_canvas, yolox_lr_schedule)

metainfo = dict(classes=classes)
model = dict(
    # multi-scale training at 0.75-1.25 x the canvas (480-800 at 640)
    data_preprocessor=dict(batch_augments=set_fields(
        _base_.model.data_preprocessor.batch_augments,
        'BatchSyncRandomResize',
        random_size_range=(img_scale[0] * 3 // 4, img_scale[0] * 5 // 4))),
    bbox_head=dict(num_classes=len(classes)))

# the pipelines of the base config at this canvas
train_pipeline = with_canvas(_base_.train_pipeline, img_scale)
test_pipeline = with_canvas(_base_.test_pipeline, img_scale)

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

# the YOLOX schedule at these lengths
train_cfg = dict(
    max_epochs=max_epochs,
    val_interval=val_interval,
    dynamic_intervals=[(max_epochs - num_last_epochs, 1)])
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = yolox_lr_schedule(max_epochs, num_last_epochs, warmup_epochs,
                                    base_lr)
custom_hooks = set_fields(_base_.custom_hooks, 'YOLOXModeSwitchHook',
                          num_last_epochs=num_last_epochs)
default_hooks = dict(
    checkpoint=dict(
        interval=val_interval, max_keep_ckpts=2, save_best='coco/bbox_mAP'))
auto_scale_lr = dict(base_batch_size=batch_size)
