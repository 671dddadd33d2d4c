"""Detection records and their COCO json: the shared step of the VOC,
labelme and COCO converters (:mod:`.voc`, :mod:`.labelme`, :mod:`.coco`).

Every reader turns its format into :class:`ImageRecord` objects (an image
file, its size and its boxes, with class *names*), and :func:`to_coco`
writes them out the way mmdet's ``CocoDataset`` and pycocotools' ``COCOeval``
expect them, whatever the source did:

* categories ``1..K`` in the order of one class list shared by all splits
  (:func:`class_list`), so a class seen only in val has the same id in
  train, and ``_background_`` / ``__ignore__`` (labelme's ``labels.txt``
  convention, often exported with id 0) are not classes;
* image and annotation ids ``1..N``: ``COCOeval`` keeps the id of the
  matched ground truth in its ``dtm`` array, where 0 means "unmatched", so
  a detection matched to an annotation with id 0 counts as a false
  positive (pycocotools ``cocoeval.py``, ``evaluateImg``);
* ``file_name`` relative to the output folder (the config's ``data_root``);
* ``difficult`` boxes (VOC) become ``iscrowd=1``: mmdet's ``CocoDataset``
  turns them into ignored instances (no training target) and ``COCOeval``
  neither rewards nor penalises detections on them, which is what the VOC
  devkit does with ``difficult``;
* images without boxes are kept (they are negatives; mmdet's
  ``filter_cfg.filter_empty_gt`` decides whether training uses them).
"""
import json
import os
import os.path as osp
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

#: Label names that are not object classes (labelme's ``labels.txt`` starts
#: with ``__ignore__`` and ``_background_``; exports give the latter id 0).
BACKGROUND_NAMES = ('__ignore__', '_background_', 'background')

#: What :func:`to_coco` does with difficult boxes.
DIFFICULT_MODES = ('ignore', 'keep', 'drop')


@dataclass
class BoxRecord:
    """One box: class name, ``(x1, y1, x2, y2)`` in image pixels (float;
    0-based, ``x2``/``y2`` exclusive as in mmdet), VOC-style flags."""
    name: str
    bbox: Sequence[float]
    difficult: bool = False
    truncated: bool = False


@dataclass
class ImageRecord:
    """One image: its file (absolute path), size in pixels, boxes."""
    path: str
    width: int
    height: int
    boxes: List[BoxRecord] = field(default_factory=list)


def is_background(name: str) -> bool:
    """Whether a label name is one of :data:`BACKGROUND_NAMES`."""
    return name.strip().lower() in BACKGROUND_NAMES


def class_list(splits: Dict[str, List[ImageRecord]],
               classes: Optional[Sequence[str]] = None) -> List[str]:
    """The class names of the dataset, one list for all splits.

    Args:
        splits: Records per split name (``{'train': [...], 'val': [...]}``).
        classes: The classes in label order. If None, the sorted names of
            all boxes of all splits (so a class that occurs only in val is
            a class of train too), background names excluded.

    Returns:
        list[str]: The classes; label ``i`` is category id ``i + 1``.

    Raises:
        ValueError: if ``classes`` is given and some box has a name outside
            it (the message lists those names, their split and an image);
            if it repeats a name; if there is no class at all.
    """
    if classes is not None:
        classes = [c for c in classes if not is_background(c)]
        repeated = [c for c, n in Counter(classes).items() if n > 1]
        if repeated:
            raise ValueError(f'classes {repeated} occur more than once in '
                             f'the class list {classes}')
        _check_known(splits, classes)
        return list(classes)
    names = {box.name for records in splits.values() for rec in records
             for box in rec.boxes if not is_background(box.name)}
    if not names:
        raise ValueError('no box with a class name found in '
                         f'{sorted(splits)}; nothing to train on')
    return sorted(names)


def _check_known(splits: Dict[str, List[ImageRecord]],
                 classes: Sequence[str]) -> None:
    unknown = {}
    for split, records in splits.items():
        for rec in records:
            for box in rec.boxes:
                if box.name not in classes and not is_background(box.name):
                    unknown.setdefault(box.name, (split, rec.path))
    if unknown:
        found = ', '.join(f'{name!r} ({split}: {path})'
                          for name, (split, path) in sorted(unknown.items()))
        raise ValueError(f'boxes with classes outside {list(classes)}: '
                         f'{found}; add them to the class list or fix the '
                         'labels')


def relative_file_name(path: str, root: str) -> str:
    """``path`` relative to ``root`` with ``/`` separators, or the
    absolute path if there is no relative one (another drive)."""
    try:
        rel = osp.relpath(osp.abspath(path), osp.abspath(root))
    except ValueError:
        return osp.abspath(path)
    return rel.replace(os.sep, '/')


def to_coco(records: List[ImageRecord], classes: Sequence[str], root: str,
            difficult: str = 'ignore') -> dict:
    """A COCO detection dict of ``records``.

    Args:
        records: The images of one split, in the order of their ids.
        classes: From :func:`class_list`; boxes of background names are
            left out, any other name must be in it.
        root: The folder ``file_name`` is relative to (``data_root``).
        difficult: ``'ignore'`` (default): difficult boxes become
            ``iscrowd=1``; ``'keep'``: ordinary boxes; ``'drop'``: left out.

    Returns:
        dict: ``images`` (ids from 1, ``file_name``, ``width``, ``height``),
        ``annotations`` (ids from 1, ``bbox`` ``[x, y, w, h]`` in pixels,
        ``area``, ``iscrowd``, ``category_id``), ``categories`` (ids
        ``1..K``), and ``info.skipped`` counting boxes left out by reason.

    Raises:
        ValueError: for an unknown ``difficult`` mode or a box whose class
            is not in ``classes``.
    """
    if difficult not in DIFFICULT_MODES:
        raise ValueError(f'difficult must be one of {DIFFICULT_MODES}, got '
                         f'{difficult!r}')
    cat_ids = {name: i + 1 for i, name in enumerate(classes)}
    images, annotations, skipped = [], [], Counter()
    for img_id, rec in enumerate(records, start=1):
        images.append(dict(id=img_id, file_name=relative_file_name(
            rec.path, root), width=int(rec.width), height=int(rec.height)))
        for box in rec.boxes:
            reason = _skip_reason(box, difficult)
            if reason:
                skipped[reason] += 1
                continue
            if box.name not in cat_ids:
                raise ValueError(f'{rec.path}: class {box.name!r} is not in '
                                 f'{list(classes)}')
            annotations.append(_annotation(len(annotations) + 1, img_id,
                                           cat_ids[box.name], box,
                                           difficult))
    categories = [dict(id=i, name=name) for name, i in cat_ids.items()]
    return dict(info=dict(skipped=dict(skipped)), images=images,
                annotations=annotations, categories=categories)


def _skip_reason(box: BoxRecord, difficult: str) -> Optional[str]:
    x1, y1, x2, y2 = box.bbox
    if is_background(box.name):
        return 'background label'
    if not (x2 > x1 and y2 > y1):
        return 'zero or negative width or height'
    if box.difficult and difficult == 'drop':
        return 'difficult (--difficult drop)'
    return None


def _annotation(ann_id: int, img_id: int, cat_id: int, box: BoxRecord,
                difficult: str) -> dict:
    x1, y1, x2, y2 = (float(v) for v in box.bbox)
    w, h = x2 - x1, y2 - y1
    crowd = int(box.difficult and difficult == 'ignore')
    return dict(id=ann_id, image_id=img_id, category_id=cat_id,
                bbox=[x1, y1, w, h], area=w * h, iscrowd=crowd)


def write_json(data: dict, path: str) -> None:
    """Write ``data`` to ``path`` (folders created; atomic replace)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f)
    os.replace(tmp, path)


def summarize(split: str, coco: dict) -> str:
    """``'val: 3 images (1 without boxes), 4 boxes (1 ignored as
    difficult): cat 2, dog 2'``."""
    names = {c['id']: c['name'] for c in coco['categories']}
    per_class = Counter(names[a['category_id']] for a in coco['annotations'])
    with_boxes = {a['image_id'] for a in coco['annotations']}
    empty = sum(img['id'] not in with_boxes for img in coco['images'])
    crowd = sum(a['iscrowd'] for a in coco['annotations'])
    line = (f"{split}: {len(coco['images'])} images ({empty} without "
            f"boxes), {len(coco['annotations'])} boxes")
    if crowd:
        line += f' ({crowd} ignored as difficult)'
    counts = ', '.join(f'{n} {per_class[n]}' for n in names.values())
    line += f': {counts}'
    skipped = coco['info'].get('skipped') or {}
    if skipped:
        line += '; left out: ' + ', '.join(f'{n} {reason}'
                                           for reason, n in skipped.items())
    return line
