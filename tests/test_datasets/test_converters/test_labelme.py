"""labelme JSON files to COCO json (yolox_mm.datasets.converters.labelme);
each expected box derived by hand from the shape's points."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from yolox_mm.datasets.converters import convert_splits
from yolox_mm.datasets.converters.labelme import LabelmeReader


def _labelme(path: Path, image_path, shapes, width=80, height=60):
    path.write_text(json.dumps(dict(
        version='5.4.1', flags={}, shapes=shapes, imagePath=image_path,
        imageData=None, imageHeight=height, imageWidth=width)))


def _shape(label, points, kind='rectangle', group_id=None, flags=None):
    return dict(label=label, points=points, group_id=group_id,
                shape_type=kind, flags=flags or {})


@pytest.fixture
def folder(tmp_path):
    """ann/a.json (image ../images/a.png, Windows separators) and
    ann/b.json (no shapes, absolute imagePath)."""
    (tmp_path / 'images').mkdir()
    (tmp_path / 'ann').mkdir()
    for name in ('a', 'b'):
        cv2.imwrite(str(tmp_path / 'images' / f'{name}.png'),
                    np.zeros((60, 80, 3), np.uint8))
    _labelme(tmp_path / 'ann' / 'a.json', '..\\images\\a.png', [
        _shape('cat', [[30, 40], [10, 20]]),  # corners in any order
        _shape('dog', [[5, 5], [25, 8], [15, 30]], 'polygon'),
        _shape('cat', [[50, 30], [53, 34]], 'circle'),  # radius 5
        _shape('dog', [[60, 10], [70, 20]], group_id=1),
        _shape('dog', [[65, 15], [75, 25]], group_id=1),  # one object
        _shape('_background_', [[0, 0], [80, 60]]),
        _shape('cat', [[1, 1]], 'point'),
        _shape('cat', [[1, 1], [9, 9]], 'line'),
        _shape('dog', [[40, 40], [60, 55]], flags=dict(difficult=True)),
    ])
    _labelme(tmp_path / 'ann' / 'b.json',
             str(tmp_path / 'images' / 'b.png'), [])
    return tmp_path


def test_shapes_to_boxes(folder):
    reader = LabelmeReader()
    rec = reader.read(str(folder / 'ann' / 'a.json'))
    assert rec.path == str(folder / 'images' / 'a.png')
    assert (rec.width, rec.height) == (80, 60)
    assert [(b.name, tuple(b.bbox), b.difficult) for b in rec.boxes] == [
        ('cat', (10.0, 20.0, 30.0, 40.0), False),
        ('dog', (5.0, 5.0, 25.0, 30.0), False),
        ('cat', (45.0, 25.0, 55.0, 35.0), False),
        ('dog', (60.0, 10.0, 75.0, 25.0), False),
        ('_background_', (0.0, 0.0, 80.0, 60.0), False),
        ('dog', (40.0, 40.0, 60.0, 55.0), True),
    ]
    assert reader.skipped == {'point': 1, 'line': 1}


def test_folder_to_coco(folder):
    coco = convert_splits('labelme', {'train': str(folder / 'ann')},
                          str(folder))['train']
    assert coco['categories'] == [dict(id=1, name='cat'),
                                  dict(id=2, name='dog')]
    assert [(i['id'], i['file_name']) for i in coco['images']] == [
        (1, 'images/a.png'), (2, 'images/b.png')]  # b: no boxes, kept
    assert [(a['category_id'], a['bbox'], a['iscrowd'])
            for a in coco['annotations']] == [
        (1, [10.0, 20.0, 20.0, 20.0], 0), (2, [5.0, 5.0, 20.0, 25.0], 0),
        (1, [45.0, 25.0, 10.0, 10.0], 0), (2, [60.0, 10.0, 15.0, 15.0], 0),
        (2, [40.0, 40.0, 20.0, 15.0], 1)]
    assert coco['info']['skipped'] == {'background label': 1}


def test_malformed_points_named(tmp_path):
    _labelme(tmp_path / 'c.json', 'c.png',
             [_shape('cat', [[1, 2, 3]], 'polygon')])
    with pytest.raises(ValueError, match=r"c.json: shape 'cat' has points "
                       r'\[\[1, 2, 3\]\]; expected a list of \[x, y\]'):
        LabelmeReader().read(str(tmp_path / 'c.json'))
