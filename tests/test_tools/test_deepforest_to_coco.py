"""Tests for :mod:`yolox_mm.datasets.converters.deepforest` and its CLI
``tools/dataset_converters/deepforest_to_coco.py``.

Only synthetic VOC xml files and images created in ``tmp_path`` are used:
no network access and no real deepforest wheel are needed.
"""
import json
import os.path as osp
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from yolox_mm.datasets.converters import deepforest as d2c

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools' / 'dataset_converters' / 'deepforest_to_coco.py'

TRAIN_STEM = '2019_YELL_2_528000_4978000_image_crop2'
VAL_STEM = 'SOAP_999'

# Synthetic train image: 1000 (w) x 600 (h). The 400/400 grid gives tiles
#   (0,0,400,400) (400,0,800,400) (800,0,1000,400)
#   (0,400,400,600) (400,400,800,600) (800,400,1000,600)
TRAIN_W, TRAIN_H = 1000, 600
TRAIN_BOXES = [
    # A: crosses x=400 with 30% left / 70% right -> only in tile (400, 0)
    ('Tree', (370, 100, 470, 150)),
    # B: exactly 50% / 50% across y=400 -> kept (>= half) in both tiles
    ('Tree', (100, 380, 140, 420)),
    # C: 25% in each of four tiles around (800, 400) -> dropped everywhere
    ('Tree', (780, 380, 820, 420)),
    # D: inside the short edge tile (800,400,1000,600)
    ('Tree', (850, 450, 990, 590)),
    # E: zero width -> dropped
    ('Tree', (300, 300, 300, 350)),
    # F: fully inside tile (0, 0); other VOC names also map to 'tree'
    ('Dead', (10, 20, 60, 80)),
]
# file_name -> list of COCO bboxes [x, y, w, h] in tile pixels, derived by
# hand from the boxes above.
EXPECTED_TRAIN = {
    f'{TRAIN_STEM}_x0_y0.png': [[100.0, 380.0, 40.0, 20.0],
                                [10.0, 20.0, 50.0, 60.0]],
    f'{TRAIN_STEM}_x400_y0.png': [[0.0, 100.0, 70.0, 50.0]],
    f'{TRAIN_STEM}_x0_y400.png': [[100.0, 0.0, 40.0, 20.0]],
    f'{TRAIN_STEM}_x800_y400.png': [[50.0, 50.0, 140.0, 140.0]],
}
EXPECTED_TRAIN_SIZES = {
    f'{TRAIN_STEM}_x0_y0.png': (400, 400),
    f'{TRAIN_STEM}_x400_y0.png': (400, 400),
    f'{TRAIN_STEM}_x0_y400.png': (400, 200),
    f'{TRAIN_STEM}_x800_y400.png': (200, 200),
}


def _write_voc(path, filename, width, height, boxes):
    objs = ''.join(
        f'<object><name>{name}</name><pose>Unspecified</pose>'
        f'<truncated>0</truncated><difficult>0</difficult><bndbox>'
        f'<xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>'
        f'<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>'
        for name, b in boxes)
    Path(path).write_text(
        f'<annotation><folder>RGB</folder><filename>{filename}</filename>'
        f'<size><width>{width}</width><height>{height}</height>'
        f'<depth>3</depth></size><segmented>0</segmented>{objs}'
        '</annotation>')


def _synthetic_image(width, height):
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx % 256, yy % 256, (xx + 3 * yy) % 256],
                    axis=-1).astype(np.uint8)


def _make_data_dir(root):
    """Two annotated images: the train stem and one val image whose
    <filename> names a .tif (the .png with the same stem must be used)."""
    data = Path(root)
    data.mkdir(parents=True, exist_ok=True)
    train_img = _synthetic_image(TRAIN_W, TRAIN_H)
    cv2.imwrite(str(data / f'{TRAIN_STEM}.png'), train_img)
    _write_voc(data / f'{TRAIN_STEM}.xml', f'{TRAIN_STEM}.png', TRAIN_W,
               TRAIN_H, TRAIN_BOXES)
    val_img = _synthetic_image(400, 400)[::-1].copy()
    cv2.imwrite(str(data / f'{VAL_STEM}.png'), val_img)
    _write_voc(data / f'{VAL_STEM}.xml', f'{VAL_STEM}.tif', 400, 400,
               [('Alive', (5, 6, 25, 36))])
    return data, train_img, val_img


# ---------------------------------------------------------------- unit ----
def test_tile_grid_regular_and_cut_short():
    tiles = d2c.tile_grid(TRAIN_W, TRAIN_H, 400, 400)
    assert tiles == [(0, 0, 400, 400), (400, 0, 800, 400),
                     (800, 0, 1000, 400), (0, 400, 400, 600),
                     (400, 400, 800, 600), (800, 400, 1000, 600)]
    assert d2c.tile_grid(400, 400) == [(0, 0, 400, 400)]
    assert d2c.tile_grid(401, 10) == [(0, 0, 400, 10), (400, 0, 401, 10)]


@pytest.mark.parametrize('bbox, tile, expected', [
    # 30% / 70% across x=400
    ((370, 100, 470, 150), (0, 0, 400, 400), None),
    ((370, 100, 470, 150), (400, 0, 800, 400), (0.0, 100.0, 70.0, 150.0)),
    # 49% / 51%
    ((351, 200, 451, 250), (0, 0, 400, 400), None),
    ((351, 200, 451, 250), (400, 0, 800, 400), (0.0, 200.0, 51.0, 250.0)),
    # exactly half is kept
    ((100, 380, 140, 420), (0, 400, 400, 600), (100.0, 0.0, 140.0, 20.0)),
    # no overlap / zero area / touching border only
    ((10, 10, 20, 20), (400, 0, 800, 400), None),
    ((300, 300, 300, 350), (0, 0, 400, 400), None),
    ((380, 10, 400, 20), (400, 0, 800, 400), None),
    # box beyond a short edge tile is clipped to the tile, not to 400
    ((960, 500, 1060, 520), (800, 400, 1000, 600), None),
    ((960, 500, 1010, 520), (800, 400, 1000, 600),
     (160.0, 100.0, 200.0, 120.0)),
])
def test_clip_box_to_tile(bbox, tile, expected):
    assert d2c.clip_box_to_tile(bbox, tile) == expected


def test_tile_annotations_hand_derived():
    voc = {'stem': TRAIN_STEM, 'width': TRAIN_W, 'height': TRAIN_H,
           'boxes': [{'name': n, 'bbox': b} for n, b in TRAIN_BOXES]}
    tiles = d2c.tile_annotations(voc)
    got = {t['file_name']: sorted(
        [x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in t['boxes'])
        for t in tiles}
    assert got == {k: sorted(v) for k, v in EXPECTED_TRAIN.items()}
    assert {t['file_name']: (t['width'], t['height'])
            for t in tiles} == EXPECTED_TRAIN_SIZES


def test_min_tile_side_skips_thin_edge_tiles():
    voc = {'stem': TRAIN_STEM, 'width': TRAIN_W, 'height': TRAIN_H,
           'boxes': [{'name': n, 'bbox': b} for n, b in TRAIN_BOXES]}
    # the 200 px high row and the 200 px wide column are dropped
    tiles = d2c.tile_annotations(voc, min_tile_side=201)
    assert [t['file_name'] for t in tiles] == [
        f'{TRAIN_STEM}_x0_y0.png', f'{TRAIN_STEM}_x400_y0.png']
    tiles = d2c.tile_annotations(voc, min_tile_side=200)
    assert len(tiles) == 4


def test_split_assignment():
    assert d2c.split_for_stem(TRAIN_STEM) == 'train'
    for stem in ('2019_YELL_2_541000_4977000_image_crop', 'OSBS_029',
                 'SOAP_061', VAL_STEM):
        assert d2c.split_for_stem(stem) == 'val'


# ---------------------------------------------------------- end to end ----
def _check_outputs(out_dir, train_img, val_img):
    from pycocotools.coco import COCO

    out_dir = Path(out_dir)
    with open(out_dir / 'annotations' / 'train.json') as f:
        train = json.load(f)
    with open(out_dir / 'annotations' / 'val.json') as f:
        val = json.load(f)
    for split, coco in (('train', train), ('val', val)):
        assert coco['categories'] == [{'id': 1, 'name': 'tree'}]
        assert COCO(str(out_dir / 'annotations' / f'{split}.json')
                    ).getCatIds() == [1]
        ids = [a['id'] for a in coco['annotations']]
        assert len(set(ids)) == len(ids)
        for ann in coco['annotations']:
            x, y, w, h = ann['bbox']
            assert ann['area'] == pytest.approx(w * h)
            assert ann['iscrowd'] == 0 and ann['category_id'] == 1
            assert all(isinstance(v, float) for v in ann['bbox'])

    # train split: only tiles of the train stem, boxes as derived by hand
    id2name = {im['id']: im['file_name'] for im in train['images']}
    got = {}
    for ann in train['annotations']:
        got.setdefault(id2name[ann['image_id']], []).append(ann['bbox'])
    assert {k: sorted(v) for k, v in got.items()} == {
        k: sorted(v) for k, v in EXPECTED_TRAIN.items()}
    assert len(train['images']) == 4 and len(train['annotations']) == 5
    for im in train['images']:
        assert (im['width'], im['height']) == EXPECTED_TRAIN_SIZES[
            im['file_name']]
        tile = cv2.imread(str(out_dir / 'images' / im['file_name']),
                          cv2.IMREAD_UNCHANGED)
        stem, xs, ys = im['file_name'][:-4].rsplit('_', 2)
        x0, y0 = int(xs[1:]), int(ys[1:])
        assert stem == TRAIN_STEM
        np.testing.assert_array_equal(
            tile, train_img[y0:y0 + im['height'], x0:x0 + im['width']])

    # val split: the other image, read from the .png despite the .tif name
    assert [im['file_name'] for im in val['images']] == [
        f'{VAL_STEM}_x0_y0.png']
    assert [a['bbox'] for a in val['annotations']] == [[5.0, 6.0, 20.0, 30.0]]
    tile = cv2.imread(str(out_dir / 'images' / f'{VAL_STEM}_x0_y0.png'))
    np.testing.assert_array_equal(tile, val_img)


def test_convert_dir_end_to_end(tmp_path):
    data, train_img, val_img = _make_data_dir(tmp_path / 'data')
    out_dir = tmp_path / 'out'
    cocos = d2c.convert_dir(str(data), str(out_dir))
    assert d2c.summarize(cocos) == ['train: 4 tiles, 5 boxes',
                                    'val: 1 tiles, 1 boxes']
    _check_outputs(out_dir, train_img, val_img)
    d2c.validate_with_pycocotools(str(out_dir))


def test_prepare_from_local_wheel_and_idempotent(tmp_path, monkeypatch):
    data, train_img, val_img = _make_data_dir(tmp_path / 'data')
    wheel = tmp_path / 'deepforest-2.1.0-py3-none-any.whl'
    with zipfile.ZipFile(wheel, 'w') as zf:
        for p in sorted(data.iterdir()):
            zf.write(p, f'deepforest/data/{p.name}')
        zf.writestr('deepforest/main.py', '# not data\n')
    out_dir = tmp_path / 'out'
    cocos = d2c.prepare_deepforest(str(out_dir), wheel=str(wheel))
    assert d2c.summarize(cocos) == ['train: 4 tiles, 5 boxes',
                                    'val: 1 tiles, 1 boxes']
    _check_outputs(out_dir, train_img, val_img)
    # only deepforest/data/* was extracted
    assert not osp.exists(out_dir / 'raw' / 'deepforest' / 'main.py')
    assert osp.isfile(out_dir / 'raw' / 'deepforest' / 'data' /
                      f'{TRAIN_STEM}.xml')

    # second run: outputs complete -> nothing is rebuilt or downloaded
    def _fail(*args, **kwargs):
        raise AssertionError('should not be called on a complete output')

    with monkeypatch.context() as patch:
        for name in ('convert_dir', 'download_wheel', 'extract_wheel_data'):
            patch.setattr(d2c, name, _fail)
        assert d2c.prepare_deepforest(str(out_dir)) == cocos

    # the CLI prints one line per split (here: nothing to rebuild)
    proc = subprocess.run([sys.executable, str(SCRIPT), '--out-dir',
                           str(out_dir)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ['train: 4 tiles, 5 boxes',
                                        'val: 1 tiles, 1 boxes']

    # an incomplete output (missing tile) is detected
    (out_dir / 'images' / f'{VAL_STEM}_x0_y0.png').unlink()
    assert d2c.load_complete_outputs(str(out_dir)) is None
