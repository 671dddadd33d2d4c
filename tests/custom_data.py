"""Tiny annotated datasets in the formats users bring (tests).

:func:`write_voc_dataset` writes ``root/train`` and ``root/val``: small PNG
images with filled rectangles, and next to each a Pascal VOC XML file as
LabelImg writes it (1-based ``bndbox``). The content covers what real
exports contain (docs/custom_dataset.md):

* train: 4 images with ``red`` and ``blue`` boxes (one ``truncated``) and
  one image without boxes;
* val: one image with a ``green`` box (a class only in val) and a
  ``difficult`` ``red`` box, one with ``blue`` and ``red``, and one image
  whose XML has no ``<object>`` (an image without boxes); the XML of the
  first names its image with another extension (``.jpg`` for a ``.png``)
  and a Windows ``<path>`` from the annotating machine.

:data:`VOC_BOXES` lists every box, so a test derives the COCO output by
hand: COCO ``bbox = [xmin - 1, ymin - 1, xmax - xmin, ymax - ymin]``.
"""
from pathlib import Path

import cv2
import numpy as np

SIZE = 96  # image width and height in pixels
COLORS = dict(red=(0, 0, 255), blue=(255, 0, 0), green=(0, 255, 0))  # BGR

#: split -> image stem -> boxes (name, (xmin, ymin, xmax, ymax) 1-based,
#: difficult, truncated)
VOC_BOXES = {
    'train': {
        't0': [('red', (11, 11, 40, 50), 0, 0), ('blue', (51, 21, 90, 60),
                                                 0, 0)],
        't1': [('blue', (6, 41, 45, 90), 0, 1)],
        't2': [('red', (31, 6, 80, 35), 0, 0), ('blue', (11, 51, 50, 86),
                                                0, 0)],
        't3': [('red', (41, 41, 90, 90), 0, 0)],
        't4': [],  # a negative: trained on (filter_empty_gt=False)
    },
    'val': {
        'v0': [('green', (21, 21, 60, 70), 0, 0), ('red', (66, 6, 90, 30),
                                                   1, 0)],
        'v1': [('blue', (11, 11, 50, 40), 0, 0), ('red', (56, 51, 90, 90),
                                                  0, 0)],
        'v2': [],
    },
}


def draw_image(boxes) -> np.ndarray:
    """A gray image with each box filled in its class colour."""
    img = np.full((SIZE, SIZE, 3), 128, np.uint8)
    for name, (x1, y1, x2, y2), _, _ in boxes:
        img[y1 - 1:y2, x1 - 1:x2] = COLORS[name]
    return img


def voc_xml(filename: str, boxes, path: str = None) -> str:
    objects = ''.join(
        f'<object><name>{name}</name><pose>Unspecified</pose>'
        f'<truncated>{trunc}</truncated><difficult>{diff}</difficult>'
        f'<bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>'
        f'<ymax>{b[3]}</ymax></bndbox></object>'
        for name, b, diff, trunc in boxes)
    path_tag = f'<path>{path}</path>' if path else ''
    return (f'<annotation><folder>images</folder><filename>{filename}'
            f'</filename>{path_tag}<source><database>Unknown</database>'
            f'</source><size><width>{SIZE}</width><height>{SIZE}</height>'
            f'<depth>3</depth></size><segmented>0</segmented>{objects}'
            '</annotation>')


def write_voc_dataset(root) -> Path:
    """Write the dataset of the module doc under ``root``; return it."""
    root = Path(root)
    for split, images in VOC_BOXES.items():
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for stem, boxes in images.items():
            cv2.imwrite(str(folder / f'{stem}.png'), draw_image(boxes))
            if stem == 'v0':
                xml = voc_xml(f'{stem}.jpg', boxes,
                              path=f'C:\\Users\\me\\labels\\{stem}.jpg')
            else:
                xml = voc_xml(f'{stem}.png', boxes)
            (folder / f'{stem}.xml').write_text(xml)
    return root


def expected_coco_boxes(split: str):
    """file_name -> sorted [(name, [x, y, w, h], iscrowd)] derived from
    :data:`VOC_BOXES` (difficult -> iscrowd 1)."""
    out = {}
    for stem, boxes in VOC_BOXES[split].items():
        out[f'{split}/{stem}.png'] = sorted(
            (name, [float(x1 - 1), float(y1 - 1), float(x2 - x1),
                    float(y2 - y1)], diff)
            for name, (x1, y1, x2, y2), diff, _ in boxes)
    return out
