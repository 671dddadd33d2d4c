"""mmdet's ``CocoDataset`` with its annotation file checked at load time.

mmdet 3.3.0's ``CocoDataset`` trusts the json: a missing key is a bare
``KeyError`` from pycocotools (``'category_id'``) or from ``parse_data_info``
(``'bbox'``, ``'area'``), and annotations it cannot use disappear without a
word: boxes with ``w < 1`` or ``h < 1`` or ``area <= 0``, boxes with no
overlap with the image, boxes of an unknown category and, because
``max(0, nan)`` is ``0`` in Python, boxes with a NaN coordinate. A box with
an infinite width or height is *kept* (``[10, 10, inf, 30]``) and reaches
the augmentations. :class:`CheckedCocoDataset` raises a ``ValueError``
naming the file and the annotation for a malformed json, drops unusable
boxes with a count per reason in the log, clips boxes that stick out of the
image, and checks that the image files exist.
"""
import json
import math
import os.path as osp
from collections import Counter, defaultdict
from functools import partial
from numbers import Real
from typing import Dict, List, Optional, Sequence, Tuple

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmengine.logging import MMLogger

from yolox_mm.registry import DATASETS

#: Keys every entry of ``images`` / ``annotations`` / ``categories`` needs.
REQUIRED_KEYS = {
    'images': ('id', 'file_name', 'width', 'height'),
    'annotations': ('id', 'image_id', 'bbox', 'category_id'),
    'categories': ('id', 'name'),
}
#: How many example annotations a log line or an error lists.
MAX_EXAMPLES = 5


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _ann_name(ann: dict, index: int) -> str:
    """``"annotation id 7 (image id 3, entry 6 of 'annotations')"``."""
    return (f"annotation id {ann.get('id')!r} (image id "
            f"{ann.get('image_id')!r}, entry {index} of 'annotations')")


def _duplicates(values: Sequence) -> list:
    repeated = [k for k, n in Counter(values).items() if n > 1]
    return sorted(repeated, key=str)[:MAX_EXAMPLES]


def check_coco_json(data, ann_file: str,
                    need_annotations: bool = True) -> None:
    """Check the structure of a loaded COCO detection json.

    Checks what ``CocoDataset`` reads: the three lists, the keys of every
    entry (:data:`REQUIRED_KEYS`), unique ids, ``bbox`` being four numbers
    (NaN and inf pass here; :class:`CheckedCocoDataset` drops them and
    counts them), ``area`` (optional) being a number, ``width``/``height``
    being positive numbers and every ``category_id`` being one of
    ``categories``.

    Args:
        data: The parsed json.
        ann_file: Its path, for the messages.
        need_annotations: Require the ``annotations`` list (a test set may
            have none). Defaults to True.

    Raises:
        ValueError: at the first problem, naming ``ann_file`` and the entry
            (its index and id; for an annotation also its image id).
    """
    if not isinstance(data, dict):
        raise ValueError(f'{ann_file}: expected a COCO json object with '
                         "'images', 'annotations' and 'categories', got a "
                         f'{type(data).__name__}')
    required = ['images', 'categories']
    if need_annotations:
        required.append('annotations')
    for key in required:
        if not isinstance(data.get(key), list):
            found = f'a {type(data[key]).__name__}' if key in data \
                else 'missing'
            raise ValueError(
                f"{ann_file}: '{key}' must be a list ({found}); the file "
                f'has the keys {sorted(data)}')
    for key in ('images', 'categories', 'annotations'):
        entries = data.get(key) or []
        for index, entry in enumerate(entries):
            _check_keys(entry, key, index, ann_file)
        repeated = _duplicates([entry['id'] for entry in entries])
        if repeated:
            raise ValueError(f'{ann_file}: ids {repeated} occur more than '
                             f"once in '{key}'")
    for index, img in enumerate(data['images']):
        if not all(_is_number(img[k]) and img[k] > 0
                   for k in ('width', 'height')):
            raise ValueError(
                f"{ann_file}: image id {img['id']!r} ({img['file_name']}, "
                f"entry {index} of 'images') has width {img['width']!r} and "
                f"height {img['height']!r}; expected positive numbers")
    cat_ids = {cat['id'] for cat in data['categories']}
    for index, ann in enumerate(data.get('annotations') or []):
        bbox = ann['bbox']
        if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4
                and all(map(_is_number, bbox))):
            raise ValueError(
                f'{ann_file}: {_ann_name(ann, index)} has bbox {bbox!r}; '
                'expected [x, y, width, height], four numbers')
        if 'area' in ann and not _is_number(ann['area']):
            raise ValueError(f'{ann_file}: {_ann_name(ann, index)} has area '
                             f"{ann['area']!r}; expected a number")
        if ann['category_id'] not in cat_ids:
            raise ValueError(
                f'{ann_file}: {_ann_name(ann, index)} has category_id '
                f"{ann['category_id']!r}, which is not in 'categories' "
                f'(ids {sorted(cat_ids, key=str)[:20]})')


def _check_keys(entry, key: str, index: int, ann_file: str) -> None:
    """Raise ``ValueError`` if entry ``index`` of list ``key`` lacks one of
    :data:`REQUIRED_KEYS`."""
    if not isinstance(entry, dict):
        raise ValueError(f"{ann_file}: entry {index} of '{key}' is a "
                         f'{type(entry).__name__}, not an object')
    missing = [k for k in REQUIRED_KEYS[key] if k not in entry]
    if not missing:
        return
    if key == 'annotations':
        what = _ann_name(entry, index)
    else:
        what = f"entry {index} of '{key}' (id {entry.get('id')!r})"
    raise ValueError(f'{ann_file}: {what} has no {missing}')


class _DropCounter:
    """Counts of dropped / changed annotations by reason, with examples."""

    def __init__(self) -> None:
        self.counts: Dict[str, int] = Counter()
        self.examples: Dict[str, List[Tuple]] = defaultdict(list)

    def add(self, reason: str, img_id, ann_id) -> None:
        self.counts[reason] += 1
        if len(self.examples[reason]) < MAX_EXAMPLES:
            self.examples[reason].append((img_id, ann_id))

    def lines(self) -> List[str]:
        """One line per reason: count, reason, examples."""
        lines = []
        for reason, count in self.counts.items():
            examples = ', '.join(f'image id {i} ann id {a}'
                                 for i, a in self.examples[reason])
            lines.append(f'  {count} {reason} (e.g. {examples})')
        return lines


#: Reasons a box is dropped (logged as a warning) or changed.
NON_FINITE = 'boxes with a NaN or infinite coordinate or area: dropped'
NOT_POSITIVE = 'boxes with zero or negative width, height or area: dropped'
OUTSIDE = 'boxes entirely outside the image: dropped'
CLIPPED = 'boxes partly outside the image: clipped to the image'
TOO_SMALL = 'boxes under 1 pixel wide or high (after clipping): dropped'
NOT_IN_CLASSES = 'boxes of categories not in metainfo classes: dropped'
ORPHAN = "annotations of image ids not in 'images': not used"


class _CheckedCOCO(COCO):
    """mmdet's COCO API object, built after :func:`check_coco_json`;
    annotations of unknown image ids are counted in ``drops``, the json's
    categories are appended to ``categories``."""

    def __init__(self, annotation_file: str, display_name: str,
                 need_annotations: bool, drops: '_DropCounter',
                 categories: list) -> None:
        super().__init__(annotation_file=None)
        with open(annotation_file) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(
                    f'{display_name} is not valid json: {e}') from None
        check_coco_json(data, display_name, need_annotations)
        self.dataset = data
        self.createIndex()
        categories.extend(data['categories'])
        self.img_ann_map = self.imgToAnns
        self.cat_img_map = self.catToImgs
        for ann in data.get('annotations') or ():
            if ann['image_id'] not in self.imgs:
                drops.add(ORPHAN, ann['image_id'], ann['id'])


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """``CocoDataset`` that checks its annotation file and reports drops.

    Same arguments and outputs as mmdet's ``CocoDataset``, plus:

    - **Malformed json raises** (:func:`check_coco_json`): ``ValueError``
      naming the file and the entry (index, id and image id), e.g.
      ``annotation id 7 (image id 3, entry 6 of 'annotations') has no
      ['bbox']``; also for a ``category_id`` missing from ``categories``,
      duplicate ids, a ``bbox`` that is not four numbers, or no ``images``
      list. ``annotations`` may be absent only with ``test_mode=True``.
      ``metainfo['classes']`` must be category names of the json in the
      json's order (mmdet and ``CocoMetric`` number the labels in that
      order).
    - **Unusable boxes are dropped and counted** in one log message
      (``MMLogger.get_current_instance()``; a warning, or info when boxes
      were only clipped or of classes outside ``metainfo['classes']``),
      with the count per reason and examples of image and annotation ids.
      Checked in this order: category not in ``metainfo['classes']``;
      NaN/inf in ``bbox`` or ``area``; ``w <= 0``, ``h <= 0`` or
      ``area <= 0``; no overlap with the image (``width``/``height`` of
      the json); under 1 px wide or high once clipped to the image (mmdet
      checks ``w < 1`` before clipping). Boxes that stick out of the image
      are clipped to it (counted, kept; mmdet keeps them unclipped). An
      ``area`` key may be absent (``w * h`` is used). Annotations whose
      ``image_id`` is not in ``images`` are counted (COCO never uses them).
      Boxes flagged ``ignore`` are skipped, ``iscrowd`` ones become
      ignored boxes, as in mmdet.
    - **filter_cfg is logged**: ``filter_empty_gt=True`` removes the
      images left without any box after the drops above (mmdet keeps an
      image whose only boxes it dropped); the numbers of images removed for
      that and for ``min_size`` go to the log.
    - **Image files are checked** (``check_image_files``): every image
      kept must exist, or ``FileNotFoundError`` lists the missing files
      with their image ids; this stops the run at dataset construction
      instead of in a DataLoader worker.

    Args:
        check_image_files (bool): Check that the images exist. Only done for
            local files (``backend_args`` None). Defaults to True.
        *args, **kwargs: ``CocoDataset``'s arguments.

    Raises:
        ValueError: for a malformed annotation file (see above).
        FileNotFoundError: for missing image files (see above), or a missing
            annotation file (mmengine's message).
    """

    def __init__(self, *args, check_image_files: bool = True,
                 **kwargs) -> None:
        self.check_image_files = check_image_files
        self._drops = _DropCounter()
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """``CocoDataset.load_data_list`` on the checked json; logs the
        dropped and clipped boxes.

        Raises:
            ValueError: for a malformed json, or when ``metainfo['classes']``
                names a category the json does not have or lists them in
                another order than the json's ``categories`` (mmdet numbers
                the labels in the json's order, and so does ``CocoMetric``:
                the class names would be attached to the wrong labels).
        """
        self._drops = _DropCounter()
        categories: List[dict] = []
        # the instance attribute shadows CocoDataset.COCOAPI for this call
        self.COCOAPI = partial(_CheckedCOCO, display_name=self.ann_file,
                               need_annotations=not self.test_mode,
                               drops=self._drops, categories=categories)
        try:
            data_list = super().load_data_list()
        finally:
            del self.COCOAPI
        classes = list(self.metainfo['classes'])
        names = [cat['name'] for cat in categories]
        if [name for name in names if name in classes] != classes:
            raise ValueError(
                f"{self.ann_file}: metainfo classes {classes} must be "
                "category names of the json, in the order of its "
                f"'categories' {names}")
        self._log_drops(data_list)
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """``CocoDataset.parse_data_info`` on the usable, clipped boxes."""
        img_info = raw_data_info['raw_img_info']
        usable = [
            ann for ann in map(partial(self._check_box, img_info),
                               raw_data_info['raw_ann_info'])
            if ann is not None
        ]
        return super().parse_data_info(
            dict(raw_img_info=img_info, raw_ann_info=usable))

    def _check_box(self, img_info: dict, ann: dict) -> Optional[dict]:
        """The annotation with its box clipped to the image, or None (and
        counted) when unusable."""
        if ann.get('ignore', False):
            return ann  # skipped by mmdet, as requested by the json
        img_id, ann_id = img_info['img_id'], ann['id']
        if ann['category_id'] not in self.cat2label:
            self._drops.add(NOT_IN_CLASSES, img_id, ann_id)
            return None
        x, y, w, h = ann['bbox']
        area = ann.get('area', w * h)
        if not all(map(math.isfinite, (x, y, w, h, area))):
            self._drops.add(NON_FINITE, img_id, ann_id)
            return None
        if w <= 0 or h <= 0 or area <= 0:
            self._drops.add(NOT_POSITIVE, img_id, ann_id)
            return None
        width, height = img_info['width'], img_info['height']
        x1, y1 = max(x, 0), max(y, 0)
        x2, y2 = min(x + w, width), min(y + h, height)
        if x2 <= x1 or y2 <= y1:
            self._drops.add(OUTSIDE, img_id, ann_id)
            return None
        if x2 - x1 < 1 or y2 - y1 < 1:
            self._drops.add(TOO_SMALL, img_id, ann_id)
            return None
        if (x1, y1, x2, y2) != (x, y, x + w, y + h):
            self._drops.add(CLIPPED, img_id, ann_id)
        return dict(ann, bbox=[x1, y1, x2 - x1, y2 - y1], area=area)

    def _log_drops(self, data_list: List[dict]) -> None:
        counts = self._drops.counts
        if not counts:
            return
        kept = sum(len(info['instances']) for info in data_list)
        lines = [f'{self.ann_file}: {kept} boxes in {len(data_list)} images '
                 'after these changes:'] + self._drops.lines()
        logger = MMLogger.get_current_instance()
        if set(counts) - {NOT_IN_CLASSES, CLIPPED}:
            logger.warning('\n'.join(lines))
        else:
            logger.info('\n'.join(lines))

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` (see the class docstring), log what it
        removed, and check that the kept images exist."""
        if self.test_mode or self.filter_cfg is None:
            kept = self.data_list
        else:
            filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
            min_size = self.filter_cfg.get('min_size', 0)
            empty = small = 0
            kept = []
            for info in self.data_list:
                if filter_empty_gt and not info['instances']:
                    empty += 1
                elif min(info['width'], info['height']) < min_size:
                    small += 1
                else:
                    kept.append(info)
            if empty or small:
                MMLogger.get_current_instance().info(
                    f'{self.ann_file}: filter_cfg removed {empty} images '
                    f'without boxes (filter_empty_gt=True) and {small} '
                    f'smaller than min_size={min_size}; '
                    f'{len(kept)} of {len(self.data_list)} images remain')
        if self.check_image_files and self.backend_args is None:
            self._check_files(kept)
        return kept

    def _check_files(self, data_list: List[dict]) -> None:
        missing = [(info['img_id'], info['img_path']) for info in data_list
                   if not osp.isfile(info['img_path'])]
        if missing:
            examples = '\n'.join(f'  image id {i}: {p}'
                                 for i, p in missing[:MAX_EXAMPLES])
            raise FileNotFoundError(
                f'{len(missing)} of the {len(data_list)} images of '
                f'{self.ann_file} are not on disk (data_prefix '
                f"{self.data_prefix.get('img')!r}), e.g.\n{examples}\n"
                'Fix data_root / data_prefix, restore the files, or remove '
                'them from the json.')
