"""An exported COCO json rewritten for mmdet (yolox_mm.datasets.
converters.coco): ``_background_`` with id 0, ids from 0, absolute paths,
classes only in val. Also shows why ids from 0 matter: pycocotools'
COCOeval scores a perfect detection of an annotation with id 0 as a miss.
"""
import contextlib
import io
import json

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from yolox_mm.datasets.converters import convert_splits


def _export(path, images, annotations, categories):
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=categories)))


def _ap_of_perfect_detection(coco: dict) -> float:
    """COCO AP of one detection equal to every ground-truth box."""
    gt = COCO()
    gt.dataset = coco
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes([dict(image_id=a['image_id'], bbox=a['bbox'],
                              category_id=a['category_id'], score=0.9)
                         for a in coco['annotations']])
        ev = COCOeval(gt, dt, 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[0]


@pytest.fixture
def export(tmp_path):
    """labelme-example-style export: categories _background_ 0, cat 1,
    dog 2; image and annotation ids from 0; train has no dog; absolute
    file_name in val."""
    (tmp_path / 'imgs').mkdir()
    for name in ('a.jpg', 'b.jpg', 'c.jpg'):
        (tmp_path / 'imgs' / name).write_bytes(b'')
    cats = [dict(id=0, name='_background_'), dict(id=1, name='cat'),
            dict(id=2, name='dog'), dict(id=3, name='bird')]  # no bird box
    _export(tmp_path / 'train.json',
            [dict(id=0, file_name='a.jpg', width=50, height=40),
             dict(id=1, file_name='b.jpg', width=50, height=40)],
            [dict(id=0, image_id=0, category_id=1, bbox=[1, 2, 10, 20],
                  area=200, iscrowd=0)], cats)
    _export(tmp_path / 'val.json',
            [dict(id=0, file_name=str(tmp_path / 'imgs' / 'c.jpg'),
                  width=50, height=40)],
            [dict(id=0, image_id=0, category_id=2, bbox=[5, 5, 20, 10],
                  area=200, iscrowd=0),
             dict(id=1, image_id=0, category_id=1, bbox=[30, 5, 10, 10],
                  area=100, iscrowd=1)], cats)
    return tmp_path


def test_export_rewritten(export, tmp_path):
    # the original val file: the dog (annotation id 0) is never matched
    val = json.loads((export / 'val.json').read_text())
    val['annotations'] = val['annotations'][:1]
    assert _ap_of_perfect_detection(val) == 0.0

    cocos = convert_splits(
        'coco', {'train': str(export / 'train.json'),
                 'val': str(export / 'val.json')}, str(tmp_path / 'out'),
        img_dirs=[str(export / 'imgs')])
    for coco in cocos.values():
        assert coco['categories'] == [dict(id=1, name='cat'),
                                      dict(id=2, name='dog'),
                                      dict(id=3, name='bird')]
    train, val = cocos['train'], cocos['val']
    assert [(i['id'], i['file_name']) for i in train['images']] == [
        (1, '../imgs/a.jpg'), (2, '../imgs/b.jpg')]
    assert [(a['id'], a['image_id'], a['category_id'], a['bbox'])
            for a in train['annotations']] == [(1, 1, 1,
                                                [1.0, 2.0, 10.0, 20.0])]
    assert val['images'][0]['file_name'] == '../imgs/c.jpg'
    assert [(a['id'], a['category_id'], a['iscrowd'])
            for a in val['annotations']] == [(1, 2, 0), (2, 1, 1)]
    # rewritten: the same perfect detection scores AP 1
    val['annotations'] = val['annotations'][:1]
    assert _ap_of_perfect_detection(val) == pytest.approx(1.0)


def test_unknown_category_named(export):
    data = json.loads((export / 'train.json').read_text())
    data['annotations'][0]['category_id'] = 7
    (export / 'bad.json').write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"bad.json: annotation 0 has "
                       r"category_id 7, not in 'categories' "
                       r'\(\[0, 1, 2, 3\]\)'):
        convert_splits('coco', {'train': str(export / 'bad.json')},
                       str(export), img_dirs=[str(export / 'imgs')])


def test_missing_image_named(export):
    with pytest.raises(FileNotFoundError, match=r"train.json: image id 0 "
                       r'\(a.jpg\) not found; tried \['):
        convert_splits('coco', {'train': str(export / 'train.json')},
                       str(export))  # default folders: not imgs/
