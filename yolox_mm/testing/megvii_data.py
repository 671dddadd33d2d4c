"""Megvii's training data pipeline (``MosaicDetection`` + ``TrainTransform``
of yolox-datamint 0.3.1, ``yolox/data/datasets/mosaicdetection.py`` and
``yolox/data/data_augment.py``) on a COCO-format set of our layout, with the
augmentation settings of one of our pipelines, for benchmarks.

Megvii's ``COCODataset`` (``yolox/data/datasets/coco.py``) expects its own
folder layout (``data_dir/annotations/json_file``, images under
``data_dir/name/``); :class:`MegviiCocoAdapter` reads any COCO json with
pycocotools and gives ``MosaicDetection`` what it calls on its dataset:
``__len__``, ``input_dim`` (read, and ``_input_dim`` written when mosaic
is off), ``load_anno(index)`` and ``pull_item(index)``, with the semantics
of ``COCODataset``: boxes clipped to the image, kept if ``area > 0`` and
``x2 >= x1, y2 >= y1``, crowd boxes dropped; the image decoded with
``cv2.imread`` (BGR) and resized to fit ``input_dim`` keeping its aspect
ratio (``load_resized_img``), the boxes scaled alike.
"""
import contextlib
import inspect
import io
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

from yolox_mm.utils.type_name import type_name

#: Transforms of our pipeline that Megvii's ``MosaicDetection`` +
#: ``TrainTransform`` implement, in order.
MEGVII_STAGES = ('Mosaic', 'RandomAffine', 'MixUp', 'YOLOXHSVRandomAug',
                 'RandomFlip')
#: What Megvii's code has fixed: ``{transform: {argument: value}}``
#: (``get_mosaic_coordinate`` centre range, ``augment_hsv`` gains, the
#: 0.5 flip of the MixUp partner).
MEGVII_FIXED = {
    'Mosaic': dict(center_ratio_range=(0.5, 1.5), prob=1.0),
    'MixUp': dict(flip_ratio=0.5, prob=1.0),
    'YOLOXHSVRandomAug': dict(hue_delta=5, saturation_delta=30,
                              value_delta=30),
}


class MegviiCocoAdapter:
    """A COCO-format set as the dataset of Megvii's ``MosaicDetection``.

    Args:
        data_root (str): Root folder.
        ann_file (str): COCO json, relative to ``data_root``.
        img_prefix (str): Image folder, relative to ``data_root``.
        img_size (tuple): ``(h, w)`` of the network input (Megvii's order).
        min_size (int): Images whose shorter side is below this are left
            out (as mmdet's ``filter_cfg=dict(min_size=...)``), so that the
            set is the one our dataset uses.

    ``pull_item(index)`` returns ``(img [h', w', 3] uint8 BGR, labels [N,
    5] float64 (x1, y1, x2, y2, class) in pixels of the resized image,
    (height, width) of the file, np.array([image id]))``; ``load_anno``
    returns the labels only. Classes are indexed by sorted category id.

    Raises:
        FileNotFoundError: if ``ann_file`` is missing (``pull_item``: an
            image that cannot be read).
    """

    def __init__(self, data_root: str, ann_file: str, img_prefix: str,
                 img_size: Tuple[int, int], min_size: int = 32) -> None:
        from pycocotools.coco import COCO
        path = osp.join(data_root, ann_file)
        if not osp.isfile(path):
            raise FileNotFoundError(f'expected a COCO json at {path}')
        with contextlib.redirect_stdout(io.StringIO()):  # COCO's chatter
            coco = COCO(path)
        self.img_dir = osp.join(data_root, img_prefix)
        self.img_size = tuple(img_size)
        class_ids = sorted(coco.getCatIds())
        self.records = []
        for img_id in coco.getImgIds():
            info = coco.loadImgs(img_id)[0]
            if min(info['width'], info['height']) < min_size:
                continue
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id],
                                                iscrowd=False))
            self.records.append((img_id, info['file_name'],
                                 (info['height'], info['width']),
                                 _clean_boxes(anns, info, class_ids)))

    def __len__(self) -> int:
        return len(self.records)

    @property
    def input_dim(self) -> Tuple[int, int]:
        """``(h, w)``; ``MosaicDetection`` sets ``_input_dim`` when mosaic
        is off."""
        return getattr(self, '_input_dim', self.img_size)

    def _ratio(self, hw: Tuple[int, int]) -> float:
        return min(self.input_dim[0] / hw[0], self.input_dim[1] / hw[1])

    def load_anno(self, index: int) -> np.ndarray:
        """``[N, 5]`` ``(x1, y1, x2, y2, class)`` scaled to the resized
        image."""
        _, _, hw, labels = self.records[index]
        labels = labels.copy()
        labels[:, :4] *= self._ratio(hw)
        return labels

    def pull_item(self, index: int):
        img_id, file_name, hw, _ = self.records[index]
        path = osp.join(self.img_dir, file_name)
        img = cv2.imread(path)
        if img is None:
            raise FileNotFoundError(f'cannot read the image {path}')
        r = min(self.input_dim[0] / img.shape[0],
                self.input_dim[1] / img.shape[1])
        img = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)),
                         interpolation=cv2.INTER_LINEAR)
        return img, self.load_anno(index), hw, np.array([img_id])


def _clean_boxes(anns: List[dict], info: dict,
                 class_ids: List[int]) -> np.ndarray:
    """``[N, 5]`` ``(x1, y1, x2, y2, class index)`` of the annotations
    Megvii's ``COCODataset.load_anno_from_ids`` keeps (clipped to the
    image, ``area > 0``)."""
    width, height = info['width'], info['height']
    rows = []
    for ann in anns:
        x, y, w, h = ann['bbox']
        x1, y1 = max(0, x), max(0, y)
        x2, y2 = min(width, x1 + max(0, w)), min(height, y1 + max(0, h))
        if ann['area'] > 0 and x2 >= x1 and y2 >= y1:
            rows.append([x1, y1, x2, y2,
                         class_ids.index(ann['category_id'])])
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def _arguments(transform: dict) -> Dict[str, object]:
    """A transform config's arguments, defaults of its class filled in
    (our registry's class)."""
    import yolox_mm  # noqa: F401  (registration)
    from mmengine import DefaultScope

    from yolox_mm.registry import TRANSFORMS
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        cls = TRANSFORMS.get(transform['type'])
    params = inspect.signature(cls.__init__).parameters
    args = {k: p.default for k, p in params.items()
            if p.default is not inspect.Parameter.empty}
    args.update({k: v for k, v in transform.items() if k != 'type'})
    return args


def megvii_settings(pipeline: List[dict]) -> dict:
    """``MosaicDetection`` / ``TrainTransform`` arguments equal to the
    Mosaic -> RandomAffine -> MixUp -> HSV -> flip of our ``pipeline``.

    Returns:
        dict: ``degrees``, ``translate``, ``mosaic_scale``, ``shear``,
        ``mixup_scale``, ``flip_prob``.

    Raises:
        ValueError: if a stage is missing, or an argument has a value that
            Megvii's code cannot express (:data:`MEGVII_FIXED`).
    """
    stages = {type_name(t['type']): _arguments(t) for t in pipeline
              if type_name(t['type']) in MEGVII_STAGES}
    missing = [s for s in MEGVII_STAGES if s not in stages]
    if missing:
        raise ValueError(f'expected the stages {MEGVII_STAGES} in the '
                         f'pipeline, missing {missing}')
    for stage, fixed in MEGVII_FIXED.items():
        for key, value in fixed.items():
            got = stages[stage][key]
            got = tuple(got) if isinstance(got, (list, tuple)) else got
            if got != value:
                raise ValueError(f'{stage}.{key}: Megvii has {value} fixed, '
                                 f'the pipeline has {got}')
    affine, mixup = stages['RandomAffine'], stages['MixUp']
    return dict(degrees=float(affine['max_rotate_degree']),
                translate=float(affine['max_translate_ratio']),
                mosaic_scale=tuple(affine['scaling_ratio_range']),
                shear=float(affine['max_shear_degree']),
                mixup_scale=tuple(mixup['ratio_range']),
                flip_prob=float(stages['RandomFlip']['prob']))


def build_megvii_pipeline(data_root: str, ann_file: str, img_prefix: str,
                          scale: int, pipeline: List[dict],
                          mosaic: bool = True, max_labels: int = 120,
                          hsv_prob: float = 1.0):
    """Megvii's ``MosaicDetection`` (mosaic prob 1, MixUp prob 1) with
    ``TrainTransform(max_labels, flip_prob, hsv_prob)`` over
    :class:`MegviiCocoAdapter`, at a ``scale x scale`` canvas, with the
    settings of :func:`megvii_settings` (``pipeline``). A sample is
    ``(img [3, scale, scale] float32 BGR, labels [max_labels, 5] float32
    (class, cx, cy, w, h), (h, w), image id)``; ``max_labels=120`` is
    Megvii's ``yolox_base.py``."""
    from yolox_mm.testing.megvii import import_megvii
    import_megvii()
    from yolox.data import MosaicDetection, TrainTransform
    settings = megvii_settings(pipeline)
    flip_prob = settings.pop('flip_prob')
    adapter = MegviiCocoAdapter(data_root, ann_file, img_prefix,
                                (scale, scale))
    return MosaicDetection(
        adapter, img_size=(scale, scale), mosaic=mosaic,
        preproc=TrainTransform(max_labels=max_labels, flip_prob=flip_prob,
                               hsv_prob=hsv_prob),
        enable_mixup=True, mosaic_prob=1.0, mixup_prob=1.0, **settings)
