"""Tiny data, config and checkpoint made by the analysis-tool tests.

:func:`write_tiny_dataset` writes 4 synthetic 120x160 images with two
classes (``tree``, ``shrub``) and COCO files ``train.json``/``val.json``
(the same 4 images, 2-3 boxes each); :func:`write_tiny_config` a config
over the tree config (``configs/yolox_nano_1xb4-200e_deepforest.py``) at a
128 canvas that reads them; :func:`write_tiny_checkpoint` a YOLOX-nano with
the crafted weights of ``tests/test_deploy/detectors.py`` (it predicts a few
dozen boxes with scores >= 0.3), saved as ``tools/train.py`` would (with
``meta.dataset_meta``).
"""
import json
from pathlib import Path
from typing import Dict, List

import cv2
import torch
from mmengine.config import Config

from tests.test_deploy.detectors import make_detector, synthetic_image

REPO = Path(__file__).resolve().parents[2]
TREE_CONFIG = REPO / 'configs' / 'yolox_nano_1xb4-200e_deepforest.py'
CLASSES = ('tree', 'shrub')
IMAGE_SHAPE = (120, 160)  # height, width
#: Per image: (label, [x, y, w, h]) COCO boxes in image pixels.
BOXES: List[List[tuple]] = [
    [(0, [10, 12, 40, 36]), (1, [80, 50, 50, 44])],
    [(0, [20, 20, 30, 30]), (0, [100, 30, 40, 60]), (1, [60, 80, 24, 20])],
    [(1, [5, 5, 60, 50]), (0, [90, 60, 48, 40])],
    [(0, [30, 40, 70, 50]), (1, [120, 10, 30, 30])],
]


def coco_dict(boxes: List[List[tuple]], file_names: List[str]) -> Dict:
    images, annotations = [], []
    for i, (name, img_boxes) in enumerate(zip(file_names, boxes)):
        images.append(dict(id=i + 1, file_name=name, height=IMAGE_SHAPE[0],
                           width=IMAGE_SHAPE[1]))
        for label, (x, y, w, h) in img_boxes:
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1,
                                    category_id=label + 1,
                                    bbox=[x, y, w, h], area=w * h,
                                    iscrowd=0))
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)]
    return dict(images=images, annotations=annotations,
                categories=categories)


def write_tiny_dataset(root: Path) -> Path:
    """Images in ``root/images/``, ``root/train.json``, ``root/val.json``."""
    (root / 'images').mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(len(BOXES)):
        name = f'img{i}.png'
        cv2.imwrite(str(root / 'images' / name),
                    synthetic_image(10 + i, *IMAGE_SHAPE))
        names.append(name)
    for split in ('train', 'val'):
        (root / f'{split}.json').write_text(json.dumps(coco_dict(BOXES,
                                                                 names)))
    return root


_CONFIG = """\
_base_ = {base!r}
data_root = {root!r}
metainfo = dict(classes={classes!r}, palette=[(0, 200, 0), (200, 0, 0)])
img_scale = (128, 128)  # width, height
model = dict(
    data_preprocessor=dict(batch_augments=None),
    bbox_head=dict(num_classes={num_classes}),
    test_cfg=dict(score_thr=0.3, nms=dict(type='nms', iou_threshold=0.65),
                  max_per_img=300))
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(type='RandomAffine', scaling_ratio_range=(0.75, 1.25),
         border=(-img_scale[0] // 2, -img_scale[1] // 2)),
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
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor'))
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(
        cache_images=False,
        dataset=dict(data_root=data_root, metainfo=metainfo,
                     ann_file='train.json', data_prefix=dict(img='images/')),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='val.json',
                 data_prefix=dict(img='images/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val.json')
test_evaluator = val_evaluator
"""


def write_tiny_config(root: Path) -> Path:
    """``root/tiny.py`` reading the data of :func:`write_tiny_dataset`."""
    path = root / 'tiny.py'
    path.write_text(_CONFIG.format(base=str(TREE_CONFIG),
                                   root=str(root) + '/', classes=CLASSES,
                                   num_classes=len(CLASSES)))
    return path


def write_tiny_checkpoint(config: Path, out: Path) -> Path:
    """The crafted YOLOX-nano of ``config`` saved to ``out``."""
    cfg = Config.fromfile(str(config))
    calib = [synthetic_image(s, 128, 128) for s in (1, 2)]
    model = make_detector(cfg, calib, CLASSES)
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': dict(
                    classes=CLASSES, palette=[(0, 200, 0), (200, 0, 0)])}},
               out)
    return out


def train_line(step: int, epoch: int, loss: float, time: float) -> Dict:
    """A training line of mmengine's json log (``LoggerHook``)."""
    return dict(lr=0.01, data_time=0.01, loss=loss, loss_cls=loss / 2,
                loss_bbox=loss / 4, loss_obj=loss / 4, time=time,
                epoch=epoch, iter=step, memory=100, step=step)


def write_scalars_log(work_dir: Path, timestamp: str,
                      lines: List[Dict]) -> Path:
    """``work_dir/<timestamp>/vis_data/scalars.json`` with ``lines``."""
    log = work_dir / timestamp / 'vis_data' / 'scalars.json'
    log.parent.mkdir(parents=True)
    log.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    return log
