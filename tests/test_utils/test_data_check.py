"""yolox_mm.utils.data_check: which data paths of a config are missing and
the message that names them (what ``tools/train.py`` exits with)."""
import os.path as osp

import pytest
from mmengine.config import Config

from yolox_mm.utils import check_data_paths, missing_data_paths


def _coco(root, ann='annotations/train.json', img='images/'):
    return dict(type='CocoDataset', data_root=root, ann_file=ann,
                data_prefix=dict(img=img))


@pytest.fixture
def data(tmp_path):
    """``data/`` with an annotation file and an image folder on disk."""
    root = tmp_path / 'data'
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'train.json').write_text('{}')
    (root / 'images').mkdir()
    return str(root) + '/'


def test_everything_present_gives_nothing(data):
    cfg = Config(dict(train_dataloader=dict(dataset=_coco(data)),
                      val_dataloader=dict(dataset=_coco(data))))
    assert missing_data_paths(cfg) == []
    check_data_paths(cfg)  # no error


def test_missing_paths_through_wrappers_in_loader_order(data, tmp_path):
    gone = str(tmp_path / 'gone') + '/'
    cfg = Config(dict(
        # Mosaic's wrapper around a concatenation of two datasets
        train_dataloader=dict(dataset=dict(
            type='YOLOXMixImageDataset',
            dataset=dict(type='ConcatDataset', datasets=[
                _coco(data), _coco(data, ann='annotations/extra.json')]))),
        val_dataloader=dict(dataset=_coco(gone)),
        test_dataloader=dict(dataset=_coco(gone))))
    assert missing_data_paths(cfg) == [
        ('train_dataloader annotation file',
         osp.join(data, 'annotations/extra.json')),
        ('val_dataloader annotation file',
         osp.join(gone, 'annotations/train.json')),
        ('val_dataloader image folder', osp.join(gone, 'images/')),
        ('test_dataloader annotation file',
         osp.join(gone, 'annotations/train.json')),
        ('test_dataloader image folder', osp.join(gone, 'images/')),
    ]
    # only the loaders asked for; a loader that is None or absent is skipped
    assert missing_data_paths(cfg, loaders=('train_dataloader', )) == [
        ('train_dataloader annotation file',
         osp.join(data, 'annotations/extra.json'))]
    cfg.val_dataloader = None
    assert missing_data_paths(cfg, loaders=('val_dataloader',
                                            'nothing_here')) == []


def test_duplicates_are_listed_once(tmp_path):
    gone = str(tmp_path / 'gone') + '/'
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='ConcatDataset', datasets=[_coco(gone), _coco(gone)]))))
    assert missing_data_paths(cfg) == [
        ('train_dataloader annotation file',
         osp.join(gone, 'annotations/train.json')),
        ('train_dataloader image folder', osp.join(gone, 'images/'))]


def test_error_message_names_every_missing_path_and_the_fix(data, tmp_path):
    gone = str(tmp_path / 'gone') + '/'
    cfg = Config(dict(train_dataloader=dict(dataset=_coco(data)),
                      val_dataloader=dict(dataset=_coco(gone))))
    with pytest.raises(FileNotFoundError) as info:
        check_data_paths(cfg)
    message = str(info.value)
    assert message.splitlines()[:3] == [
        'The dataset of this config is not on disk. Expected:',
        '  val_dataloader annotation file: '
        + osp.join(gone, 'annotations/train.json'),
        '  val_dataloader image folder: ' + osp.join(gone, 'images/'),
    ]
    assert len([line for line in message.splitlines()
                if line.startswith('  ')]) == 2  # train's paths exist
    assert '--cfg-options' in message
    assert 'val_dataloader.dataset.data_root=' in message


def test_no_image_prefix_and_empty_ann_file_are_not_checked(tmp_path):
    gone = str(tmp_path / 'gone') + '/'
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='CocoDataset', data_root=gone, ann_file=''))))
    assert missing_data_paths(cfg) == []
