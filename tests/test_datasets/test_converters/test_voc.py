"""VOC XML folders to COCO json (yolox_mm.datasets.converters.voc and
records), on the dataset of tests/custom_data.py; expected boxes derived
by hand from its 1-based VOC boxes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.custom_data import VOC_BOXES, expected_coco_boxes, \
    write_voc_dataset, voc_xml
from yolox_mm.datasets.converters import (class_list, convert_splits,
                                          read_split, summarize)
from yolox_mm.datasets.converters.voc import read_voc_xml

REPO = Path(__file__).resolve().parents[3]


def _boxes_by_file(coco):
    names = {c['id']: c['name'] for c in coco['categories']}
    files = {i['id']: i['file_name'] for i in coco['images']}
    out = {f: [] for f in files.values()}
    for a in coco['annotations']:
        out[files[a['image_id']]].append(
            (names[a['category_id']], a['bbox'], a['iscrowd']))
    return {f: sorted(b) for f, b in out.items()}


@pytest.fixture
def voc(tmp_path):
    return write_voc_dataset(tmp_path / 'data')


def test_one_xml_hand_derived(tmp_path):
    xml = tmp_path / 'a.xml'
    (tmp_path / 'a.png').write_bytes(b'')  # found by name; size from XML
    xml.write_text(voc_xml('a.png', [('cat', (11, 21, 40, 60), 1, 1)]))
    rec = read_voc_xml(str(xml))
    assert (rec.width, rec.height) == (96, 96)
    assert rec.path == str(tmp_path / 'a.png')
    (box, ) = rec.boxes
    # mmdet's XMLDataset: 1 subtracted from all four
    assert (box.name, tuple(box.bbox), box.difficult, box.truncated) == (
        'cat', (10.0, 20.0, 39.0, 59.0), True, True)


def test_splits_share_classes_ids_from_one(voc, tmp_path):
    out = tmp_path / 'out'
    cocos = convert_splits('voc', {'train': str(voc / 'train'),
                                   'val': str(voc / 'val')}, str(out))
    for split in ('train', 'val'):
        coco = json.loads((out / 'annotations' / f'{split}.json')
                          .read_text())
        assert coco == cocos[split]
        # green occurs only in val, and is a category of train too
        assert coco['categories'] == [
            dict(id=1, name='blue'), dict(id=2, name='green'),
            dict(id=3, name='red')]
        assert [i['id'] for i in coco['images']] == list(
            range(1, len(VOC_BOXES[split]) + 1))
        assert [a['id'] for a in coco['annotations']] == list(
            range(1, len(coco['annotations']) + 1))
        # file names relative to the output folder: ../data/<split>/x.png
        expected = {f'../data/{k}': v
                    for k, v in expected_coco_boxes(split).items()}
        assert _boxes_by_file(coco) == expected
        for ann in coco['annotations']:
            assert ann['area'] == ann['bbox'][2] * ann['bbox'][3]
    assert summarize('val', cocos['val']) == (
        'val: 3 images (1 without boxes), 4 boxes (1 ignored as '
        'difficult): blue 1, green 1, red 2')


def test_windows_path_and_other_extension_resolve(voc):
    # v0.xml names C:\Users\me\labels\v0.jpg; the file is val/v0.png
    rec = read_voc_xml(str(voc / 'val' / 'v0.xml'))
    assert rec.path == str(voc / 'val' / 'v0.png')


def test_difficult_modes(voc, tmp_path):
    src = {'val': str(voc / 'val')}
    keep = convert_splits('voc', src, str(tmp_path / 'k'),
                          difficult='keep')['val']
    drop = convert_splits('voc', src, str(tmp_path / 'd'),
                          difficult='drop')['val']
    assert [a['iscrowd'] for a in keep['annotations']] == [0] * 4
    assert len(drop['annotations']) == 3
    assert drop['info']['skipped'] == {'difficult (--difficult drop)': 1}


def test_unlabelled_images_only_on_request(voc):
    (voc / 'train' / 't3.xml').unlink()
    assert len(read_split('voc', str(voc / 'train'))) == 4
    records = read_split('voc', str(voc / 'train'), include_unlabelled=True)
    assert [(Path(r.path).name, r.boxes, r.width) for r in records][-1] == (
        't3.png', [], 96)


def test_class_list_given_and_errors(voc):
    splits = {'train': read_split('voc', str(voc / 'train')),
              'val': read_split('voc', str(voc / 'val'))}
    assert class_list(splits, ['_background_', 'red', 'green', 'blue']) == [
        'red', 'green', 'blue']
    with pytest.raises(ValueError, match=r"outside \['red', 'blue'\]: "
                       r"'green' \(val: .*v0.png\)"):
        class_list(splits, ['red', 'blue'])
    with pytest.raises(ValueError, match='more than once'):
        class_list(splits, ['red', 'red', 'blue', 'green'])


def test_bad_xml_names_the_file(tmp_path):
    bad = tmp_path / 'x.xml'
    bad.write_text('<annotation><object><name>a</name><bndbox><xmin>one'
                   '</xmin></bndbox></object></annotation>')
    (tmp_path / 'x.png').write_bytes(b'')
    with pytest.raises(ValueError, match=r"x.xml: <xmin> is 'one'"):
        read_voc_xml(str(bad))
    lost = tmp_path / 'y.xml'
    lost.write_text(voc_xml('gone.jpg', []))
    with pytest.raises(FileNotFoundError,
                       match=r"y.xml: image 'gone.jpg' not found; tried"):
        read_voc_xml(str(lost))


@pytest.mark.slow  # a subprocess importing mmdet: 8-17 s here
def test_cli(voc, tmp_path):
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'dataset_converters' /
                             'to_coco.py'), 'voc', '--train',
         str(voc / 'train'), '--val', str(voc / 'val'), '--out-dir',
         str(out)], capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == ('train: 5 images (1 without boxes), 6 boxes: '
                        'blue 3, green 0, red 3')
    assert lines[-2:] == [f"    data_root = '{out}/'",
                          "    classes = ('blue', 'green', 'red')"]
    assert (out / 'annotations' / 'val.json').is_file()
