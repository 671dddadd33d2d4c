"""labelme JSON files to :class:`~.records.ImageRecord` objects.

One JSON file per image (labelme 3-5.x): ``imagePath`` (relative to the
JSON file, or absolute, possibly a Windows path), ``imageWidth``,
``imageHeight`` and ``shapes``, each with ``label``, ``points`` (``[x, y]``
in pixels, 0-based, continuous coordinates), ``shape_type`` and optional
``group_id`` and ``flags``. Boxes:

* ``rectangle``: the two corners, in either order;
* ``polygon``: the enclosing box of its points;
* ``circle``: centre and a point on the circle, the box around it;
* shapes with the same ``label`` and a non-null ``group_id`` are one object
  (labelme's convention for an object drawn in pieces): their union box;
* ``point``, ``line``, ``linestrip`` and the like have no box and are
  skipped (counted in :attr:`LabelmeReader.skipped`);
* ``flags: {"difficult": true}`` (or ``"truncated"``) set the VOC flags.
"""
import glob
import json
import math
import os.path as osp
from collections import Counter
from typing import Dict, List, Sequence, Tuple

from .image_files import find_image, image_size
from .records import BoxRecord, ImageRecord
from .voc import unlabelled_images

#: labelme shape types that enclose an area.
BOX_SHAPES = ('rectangle', 'polygon', 'circle')


def shape_box(shape: dict, json_file: str) -> Tuple[float, ...]:
    """``(x1, y1, x2, y2)`` of a rectangle, polygon or circle shape.

    Raises:
        ValueError: if ``points`` is not a list of ``[x, y]`` numbers, or
            too short for the shape type.
    """
    try:
        points = [(float(x), float(y)) for x, y in shape['points']]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{json_file}: shape {shape.get('label')!r} has "
                         f"points {shape.get('points')!r}; expected a list "
                         'of [x, y] numbers') from None
    kind = shape.get('shape_type') or 'polygon'
    if len(points) < 2:
        raise ValueError(f"{json_file}: {kind} {shape.get('label')!r} has "
                         f'{len(points)} point(s); expected at least 2')
    if kind == 'circle':
        (cx, cy), (px, py) = points[:2]
        r = math.hypot(px - cx, py - cy)
        return cx - r, cy - r, cx + r, cy + r
    xs, ys = zip(*points)
    return min(xs), min(ys), max(xs), max(ys)


def _union(a: Sequence[float], b: Sequence[float]) -> Tuple[float, ...]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


class LabelmeReader:
    """Reads labelme JSON files; counts the shapes it cannot use.

    Args:
        img_dirs: Other folders to look for the images in (see
            :func:`~.image_files.find_image`).
    """

    def __init__(self, img_dirs: Sequence[str] = ()) -> None:
        self.img_dirs = list(img_dirs)
        #: shape types skipped (no box), with their counts
        self.skipped: Counter = Counter()

    def boxes(self, shapes: List[dict], json_file: str) -> List[BoxRecord]:
        """The boxes of a file's ``shapes`` (module doc), grouped."""
        grouped: Dict[tuple, BoxRecord] = {}
        boxes = []
        for shape in shapes:
            kind = shape.get('shape_type') or 'polygon'
            if kind not in BOX_SHAPES:
                self.skipped[kind] += 1
                continue
            flags = shape.get('flags') or {}
            box = BoxRecord(name=str(shape.get('label', '')).strip(),
                            bbox=shape_box(shape, json_file),
                            difficult=bool(flags.get('difficult')),
                            truncated=bool(flags.get('truncated')))
            key = (box.name, shape.get('group_id'))
            if key[1] is None:
                boxes.append(box)
            elif key in grouped:
                grouped[key].bbox = _union(grouped[key].bbox, box.bbox)
            else:
                grouped[key] = box
                boxes.append(box)
        return boxes

    def read(self, json_file: str) -> ImageRecord:
        """One labelme JSON file.

        Raises:
            ValueError: if it is not valid JSON or has no ``shapes`` list;
                FileNotFoundError if the image is not found.
        """
        try:
            with open(json_file, encoding='utf-8') as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{json_file} is not valid JSON: {e}') from None
        if not isinstance(data, dict) or not isinstance(
                data.get('shapes'), list):
            raise ValueError(f"{json_file}: no 'shapes' list; expected a "
                             'labelme annotation file')
        boxes = self.boxes(data['shapes'], json_file)
        path = find_image(data.get('imagePath'), json_file, self.img_dirs)
        width = int(data.get('imageWidth') or 0)
        height = int(data.get('imageHeight') or 0)
        if width <= 0 or height <= 0:
            width, height = image_size(path)
        return ImageRecord(path=path, width=width, height=height,
                           boxes=boxes)


def read_labelme_folder(folder: str, img_dirs: Sequence[str] = (),
                        include_unlabelled: bool = False,
                        reader: LabelmeReader = None) -> List[ImageRecord]:
    """Every ``*.json`` directly in ``folder`` (sorted by name); with
    ``include_unlabelled`` also its images without a JSON file, as images
    without boxes.

    Raises:
        FileNotFoundError: if ``folder`` has no JSON file.
    """
    reader = reader or LabelmeReader(img_dirs)
    json_files = sorted(glob.glob(osp.join(folder, '*.json')))
    if not json_files:
        raise FileNotFoundError(f'no *.json file in {folder}')
    records = [reader.read(f) for f in json_files]
    if include_unlabelled:
        records += unlabelled_images(folder, records)
    return records
