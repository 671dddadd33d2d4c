"""CheckedCocoDataset: malformed COCO json raises naming the file and the
annotation; unusable boxes are dropped and counted in the log; missing
image files stop the dataset at construction (docs/reliability.md)."""
import json
import logging
import math
import uuid

import pytest
from mmdet.datasets import CocoDataset
from mmengine.logging import MMLogger

from yolox_mm.datasets import CheckedCocoDataset
from yolox_mm.registry import DATASETS

NAN, INF = float('nan'), float('inf')
CATEGORIES = [dict(id=1, name='tree'), dict(id=2, name='bush')]


class _Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def text(self, level=logging.INFO):
        return '\n'.join(r.getMessage() for r in self.records
                         if r.levelno == level)


@pytest.fixture
def logged():
    """Records of a new current MMLogger (what the dataset logs to)."""
    logger = MMLogger.get_instance(f'checked_coco_{uuid.uuid4().hex}',
                                   log_level='INFO')
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def image(img_id, name=None, width=100, height=100):
    return dict(id=img_id, file_name=name or f'{img_id}.png', width=width,
                height=height)


def ann(ann_id, bbox, img_id=1, category_id=1, **extra):
    out = dict(id=ann_id, image_id=img_id, category_id=category_id,
               bbox=bbox, iscrowd=0)
    if bbox is not None and len(bbox) == 4 and all(
            isinstance(v, (int, float)) for v in bbox):
        out['area'] = bbox[2] * bbox[3]
    out.update(extra)
    return out


def write_json(tmp_path, data, touch_images=True):
    """Write ``data`` to ``tmp_path/ann.json`` (allow_nan: NaN/Infinity
    literals, as Python's json writes and reads them) and create empty image
    files for its images."""
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data))
    if touch_images and isinstance(data, dict):
        for img in data.get('images', ()):
            if isinstance(img, dict) and 'file_name' in img:
                (tmp_path / img['file_name']).touch()
    return str(path)


def build(tmp_path, data, cls=CheckedCocoDataset, **kwargs):
    kwargs.setdefault('metainfo', dict(classes=('tree', )))
    return cls(ann_file=write_json(tmp_path, data),
               data_prefix=dict(img=str(tmp_path) + '/'), pipeline=[],
               **kwargs)


def coco(annotations, images=None, categories=CATEGORIES):
    return dict(images=images or [image(1)], annotations=annotations,
                categories=categories)


def boxes(dataset, idx=0):
    return [i['bbox'] for i in dataset.get_data_info(idx)['instances']]


def test_registered():
    assert DATASETS.get('CheckedCocoDataset') is CheckedCocoDataset


@pytest.mark.parametrize('data,expected', [
    (dict(annotations=[], categories=CATEGORIES), "'images' must be a list"),
    (dict(images=[image(1)], annotations=[]), "'categories' must be a list"),
    (dict(images=[image(1)], categories=CATEGORIES),
     "'annotations' must be a list"),
    ([], 'expected a COCO json object'),
])
def test_missing_top_level_keys_name_the_file(tmp_path, data, expected):
    with pytest.raises(ValueError) as info:
        build(tmp_path, data)
    assert expected in str(info.value)
    assert str(tmp_path / 'ann.json') in str(info.value)


def test_test_mode_needs_no_annotations(tmp_path):
    data = dict(images=[image(1)], categories=CATEGORIES)
    dataset = build(tmp_path, data, test_mode=True)
    assert len(dataset) == 1 and boxes(dataset) == []


@pytest.mark.parametrize('key', ['bbox', 'category_id', 'image_id'])
def test_annotation_without_key_names_file_ann_and_image(tmp_path, key):
    bad = ann(7, [10, 10, 20, 20], img_id=1)
    del bad[key]
    data = coco([ann(6, [1, 1, 5, 5]), bad])
    with pytest.raises(ValueError) as info:
        build(tmp_path, data)
    message = str(info.value)
    assert str(tmp_path / 'ann.json') in message
    assert 'annotation id 7' in message
    assert f"has no ['{key}']" in message
    if key != 'image_id':
        assert 'image id 1' in message


def test_mmdet_fails_with_a_bare_key_error(tmp_path):
    """What the check replaces: mmdet (pycocotools) names neither the file
    nor the annotation."""
    bad = ann(7, [10, 10, 20, 20])
    del bad['category_id']
    with pytest.raises(KeyError) as info:
        build(tmp_path, coco([bad]), cls=CocoDataset)
    assert str(info.value) == "'category_id'"


def test_image_without_file_name(tmp_path):
    data = coco([], images=[dict(id=4, width=10, height=10)])
    with pytest.raises(ValueError, match=r"entry 0 of 'images' \(id 4\) has "
                       r"no \['file_name'\]"):
        build(tmp_path, data)


def test_unknown_category_id_names_the_annotation(tmp_path):
    data = coco([ann(1, [1, 1, 5, 5]), ann(9, [1, 1, 5, 5], category_id=5)])
    with pytest.raises(ValueError) as info:
        build(tmp_path, data)
    message = str(info.value)
    assert 'annotation id 9 (image id 1' in message
    assert "category_id 5, which is not in 'categories' (ids [1, 2])" \
        in message


@pytest.mark.parametrize('bbox', [None, [1, 2, 3], [1, 2, 3, None],
                                  ['1', 2, 3, 4]])
def test_bbox_that_is_not_four_numbers(tmp_path, bbox):
    data = coco([ann(3, bbox)])
    with pytest.raises(ValueError, match=r'annotation id 3 \(image id 1.* '
                       r'has bbox .*expected \[x, y, width, height\]'):
        build(tmp_path, data)


def test_duplicate_ids(tmp_path):
    data = coco([ann(3, [1, 1, 5, 5]), ann(3, [2, 2, 5, 5])])
    with pytest.raises(ValueError, match=r"ids \[3\] occur more than once "
                       r"in 'annotations'"):
        build(tmp_path, data)


@pytest.mark.parametrize('classes', [('oak', ), ('bush', 'tree')])
def test_classes_must_be_json_categories_in_their_order(tmp_path, classes):
    """mmdet numbers labels in the json's order (and CocoMetric does too):
    ('bush', 'tree') would name label 0 (category 'tree') 'bush'."""
    with pytest.raises(ValueError, match='in the order of its'):
        build(tmp_path, coco([ann(1, [1, 1, 5, 5])]),
              metainfo=dict(classes=classes))
    build(tmp_path, coco([ann(1, [1, 1, 5, 5])]),
          metainfo=dict(classes=('tree', 'bush')))


#: (annotation, reason) of every box the dataset must drop from a
#: 100 x 100 image, and the boxes it keeps.
DROPPED = [
    (ann(2, [NAN, 10, 20, 20]), 'NaN or infinite'),
    (ann(3, [10, 10, NAN, 20]), 'NaN or infinite'),
    (ann(4, [10, 10, INF, 20]), 'NaN or infinite'),
    (ann(5, [10, 10, 20, INF]), 'NaN or infinite'),
    (ann(6, [-INF, 10, 20, 20]), 'NaN or infinite'),
    (ann(7, [10, 10, 20, 20], area=NAN), 'NaN or infinite'),
    (ann(8, [10, 10, 0, 20]), 'zero or negative'),
    (ann(9, [30, 10, -5, 20]), 'zero or negative'),
    (ann(10, [10, 10, 20, 20], area=0), 'zero or negative'),
    (ann(11, [200, 200, 10, 10]), 'entirely outside'),
    (ann(12, [-30, 10, 20, 20]), 'entirely outside'),
    (ann(13, [99.5, 10, 10, 20]), 'under 1 pixel'),
    (ann(14, [10, 10, 0.5, 20]), 'under 1 pixel'),
    (ann(15, [10, 10, 20, 20], category_id=2), 'not in metainfo classes'),
]
KEPT = [
    (ann(1, [10, 10, 20, 20]), [10, 10, 30, 30]),
    (ann(16, [90, 95, 30, 30]), [90, 95, 100, 100]),  # clipped
    (ann(17, [-5, -5, 20, 20]), [0, 0, 15, 15]),  # clipped
    (ann(18, [10, 10, 20, 20], area=None), [10, 10, 30, 30]),  # no area
]


def _bad_box_json():
    anns = [a for a, _ in KEPT + DROPPED]
    for a in anns:
        if a.get('area', 0) is None:
            del a['area']
    return coco(anns)


def test_unusable_boxes_are_dropped_and_counted(tmp_path, logged):
    dataset = build(tmp_path, _bad_box_json())
    assert boxes(dataset) == [box for _, box in KEPT]
    warning = logged.text(logging.WARNING)
    assert f"{tmp_path / 'ann.json'}: 4 boxes in 1 images" in warning
    for reason in ('NaN or infinite', 'zero or negative',
                   'entirely outside', 'under 1 pixel',
                   'not in metainfo classes', 'clipped to the image'):
        count = sum(r == reason for _, r in DROPPED) or 2
        line, = [l for l in warning.splitlines() if reason in l]
        assert line.strip().startswith(f'{count} boxes'), line
    # examples name image and annotation ids
    assert 'image id 1 ann id 2' in warning
    assert 'image id 1 ann id 16' in warning


def test_mmdet_keeps_infinite_boxes_and_drops_nan_silently(tmp_path):
    """Why the checks exist: mmdet 3.3.0 keeps w=inf / h=inf boxes
    (``min(x + inf, width)`` is the width) and unclipped boxes, drops NaN
    ones only because ``max(0, nan)`` is 0, and logs nothing (and needs
    an ``area`` key: ``KeyError: 'area'``)."""
    data = _bad_box_json()
    data['annotations'] = [a for a in data['annotations'] if 'area' in a]
    dataset = build(tmp_path, data, cls=CocoDataset)
    kept = boxes(dataset)
    assert [10, 10, INF, 30] in kept and [10, 10, 30, INF] in kept
    assert [90, 95, 120, 125] in kept  # not clipped
    assert not any(math.isnan(v) for b in kept for v in b)
    assert max(0, NAN) == 0 and math.isnan(max(NAN, 0))


def test_clipping_only_is_info(tmp_path, logged):
    build(tmp_path, coco([ann(1, [90, 90, 30, 30])]))
    assert logged.text(logging.WARNING) == ''
    assert '1 boxes partly outside the image: clipped' in logged.text()


def test_annotations_of_unknown_images_are_counted(tmp_path, logged):
    build(tmp_path, coco([ann(1, [1, 1, 5, 5]), ann(2, [1, 1, 5, 5],
                                                    img_id=99)]))
    assert ("1 annotations of image ids not in 'images': not used (e.g. "
            'image id 99 ann id 2)') in logged.text(logging.WARNING)


def test_image_with_no_boxes(tmp_path, logged):
    """Kept as a background image unless filter_empty_gt; an image whose
    only box was dropped counts as empty (mmdet would keep it)."""
    data = coco([ann(1, [10, 10, 20, 20]),
                 ann(2, [10, 10, 0, 0], img_id=3)],
                images=[image(1), image(2), image(3)])
    dataset = build(tmp_path, data,
                    filter_cfg=dict(filter_empty_gt=False, min_size=0))
    assert [len(boxes(dataset, i)) for i in range(3)] == [1, 0, 0]
    dataset = build(tmp_path, data,
                    filter_cfg=dict(filter_empty_gt=True, min_size=0))
    assert len(dataset) == 1 and dataset.get_data_info(0)['img_id'] == 1
    assert ('filter_cfg removed 2 images without boxes (filter_empty_gt=True)'
            ' and 0 smaller than min_size=0; 1 of 3 images remain') \
        in logged.text()
    mmdet = build(tmp_path, data, cls=CocoDataset,
                  filter_cfg=dict(filter_empty_gt=True, min_size=0))
    assert len(mmdet) == 2  # keeps image 3, whose only box it dropped


def test_missing_image_files_stop_construction(tmp_path):
    data = coco([], images=[image(1), image(2, 'sub/gone.png'),
                            image(3, 'gone2.jpg')])
    write_json(tmp_path, data, touch_images=False)
    (tmp_path / '1.png').touch()
    with pytest.raises(FileNotFoundError) as info:
        CheckedCocoDataset(ann_file=str(tmp_path / 'ann.json'),
                           data_prefix=dict(img=str(tmp_path) + '/'),
                           metainfo=dict(classes=('tree', )), pipeline=[])
    message = str(info.value)
    assert '2 of the 3 images' in message
    assert f"image id 2: {tmp_path / 'sub/gone.png'}" in message
    assert f"image id 3: {tmp_path / 'gone2.jpg'}" in message
    dataset = CheckedCocoDataset(
        ann_file=str(tmp_path / 'ann.json'),
        data_prefix=dict(img=str(tmp_path) + '/'),
        metainfo=dict(classes=('tree', )), pipeline=[],
        check_image_files=False)
    assert len(dataset) == 3


def test_same_data_as_mmdet_on_clean_tree_annotations():
    """The tree annotations are clean: nothing is dropped, clipped or
    logged, and the records equal mmdet's."""
    kwargs = dict(data_root='data/deepforest/',
                  ann_file='annotations/train.json',
                  data_prefix=dict(img='images/'),
                  metainfo=dict(classes=('tree', )),
                  filter_cfg=dict(filter_empty_gt=True, min_size=0),
                  pipeline=[])
    ours, theirs = CheckedCocoDataset(**kwargs), CocoDataset(**kwargs)
    assert len(ours) == len(theirs) > 0
    assert not ours._drops.counts
    for i in range(len(ours)):
        assert ours.get_data_info(i) == theirs.get_data_info(i)


def test_entry_that_is_not_an_object(tmp_path):
    data = coco([ann(1, [1, 1, 5, 5]), 17])
    with pytest.raises(ValueError, match=r"entry 1 of 'annotations' is a "
                       r'int, not an object'):
        build(tmp_path, data)
