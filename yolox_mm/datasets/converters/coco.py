"""An existing COCO json (Roboflow, CVAT, labelme's ``labelme2coco.py``
example, ...) to :class:`~.records.ImageRecord` objects, so that
:func:`~.records.to_coco` writes it again in the form mmdet expects:
categories ``1..K`` without ``_background_`` (exports of labelme's example
script give it id 0), image and annotation ids from 1 (exports often start
at 0), the same category list in every split, ``file_name`` relative to
the output folder.

``bbox`` is ``[x, y, w, h]`` in pixels (COCO); ``iscrowd=1`` annotations
stay ignored (read as difficult). Segmentations are not kept.
"""
import json
import os.path as osp
from typing import List, Optional, Sequence

from .records import BoxRecord, ImageRecord, is_background


def read_coco_json(json_file: str,
                   img_dirs: Optional[Sequence[str]] = None
                   ) -> List[ImageRecord]:
    """The images of a COCO json, in the order of ``images``.

    Args:
        json_file: The COCO file.
        img_dirs: Folders the ``file_name`` values are relative to (tried in
            order); default: the json's folder and ``images/`` next to it.
            Absolute ``file_name`` values are used as they are.

    Raises:
        ValueError: if a key COCO needs is missing, or an annotation names
            an unknown image or category; FileNotFoundError if an image is
            not found.
    """
    with open(json_file, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{json_file} is not valid JSON: {e}') from None
    for key in ('images', 'categories'):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{json_file}: no '{key}' list; expected a COCO "
                             'detection json')
    if img_dirs is None:
        base = osp.dirname(osp.abspath(json_file))
        img_dirs = [base, osp.join(base, 'images')]
    names = {c['id']: str(c['name']) for c in data['categories']}
    records = {img['id']: _image(img, json_file, img_dirs)
               for img in data['images']}
    for ann in data.get('annotations') or []:
        if ann.get('image_id') not in records:
            raise ValueError(f"{json_file}: annotation {ann.get('id')!r} has "
                             f"image_id {ann.get('image_id')!r}, not in "
                             "'images'")
        if ann.get('category_id') not in names:
            raise ValueError(f"{json_file}: annotation {ann.get('id')!r} has "
                             f"category_id {ann.get('category_id')!r}, not "
                             f"in 'categories' ({sorted(names)})")
        x, y, w, h = (float(v) for v in ann['bbox'])
        records[ann['image_id']].boxes.append(
            BoxRecord(name=names[ann['category_id']], bbox=(x, y, x + w,
                                                            y + h),
                      difficult=bool(ann.get('iscrowd', 0))))
    return list(records.values())


def declared_classes(json_files: Sequence[str]) -> List[str]:
    """The category names of the files in the order of their ids (first
    file first), each once, background names excluded: the default class
    list of a COCO conversion (it keeps classes without boxes)."""
    names = []
    for json_file in json_files:
        with open(json_file, encoding='utf-8') as f:
            categories = json.load(f).get('categories') or []
        for cat in sorted(categories, key=lambda c: c['id']):
            if cat['name'] not in names and not is_background(cat['name']):
                names.append(str(cat['name']))
    return names


def _image(img: dict, json_file: str, img_dirs: Sequence[str]) -> ImageRecord:
    """The record of one ``images`` entry; ``file_name`` is tried as it is
    (if absolute), in each of ``img_dirs``, then by its base name there.

    Raises:
        FileNotFoundError: naming the json, the image id and the paths
            tried.
    """
    name = img['file_name']
    base = name.replace('\\', '/').split('/')[-1]
    tried = [name] if osp.isabs(name) else []
    tried += [osp.join(d, name) for d in img_dirs]
    tried += [osp.join(d, base) for d in img_dirs]
    for path in dict.fromkeys(tried):
        if osp.isfile(path):
            return ImageRecord(path=osp.normpath(path),
                               width=int(img['width']),
                               height=int(img['height']))
    raise FileNotFoundError(
        f"{json_file}: image id {img['id']!r} ({name}) not found; tried "
        f'{list(dict.fromkeys(tried))}. Pass the image folder with '
        '--img-dir.')
