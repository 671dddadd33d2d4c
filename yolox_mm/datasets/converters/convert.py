"""VOC XML folders, labelme JSON folders or COCO jsons, split by split, to
``OUT/annotations/{split}.json`` for mmdet's ``CocoDataset`` (the steps of
``tools/dataset_converters/to_coco.py``; docs/custom_dataset.md)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from .coco import declared_classes, read_coco_json
from .labelme import LabelmeReader, read_labelme_folder
from .records import ImageRecord, class_list, to_coco, write_json
from .voc import read_voc_folder

#: Formats :func:`read_split` reads: a folder of ``*.xml``, a folder of
#: ``*.json``, or one COCO json file.
FORMATS = ('voc', 'labelme', 'coco')


def read_split(fmt: str, source: str, img_dirs: Sequence[str] = (),
               include_unlabelled: bool = False) -> List[ImageRecord]:
    """The records of one split.

    Raises:
        ValueError: for an unknown ``fmt`` or a ``source`` of the wrong
            kind (a file for a folder format or the reverse).
    """
    if fmt not in FORMATS:
        raise ValueError(f'format must be one of {FORMATS}, got {fmt!r}')
    if fmt == 'coco':
        if not osp.isfile(source):
            raise ValueError(f'coco: {source} is not a file; expected a '
                             'COCO json')
        return read_coco_json(source, list(img_dirs) or None)
    if not osp.isdir(source):
        raise ValueError(f'{fmt}: {source} is not a folder; expected the '
                         f"folder of the {'XML' if fmt == 'voc' else 'JSON'}"
                         ' files')
    if fmt == 'voc':
        return read_voc_folder(source, img_dirs, include_unlabelled)
    return read_labelme_folder(source, img_dirs, include_unlabelled,
                               LabelmeReader(img_dirs))


def read_class_file(path: str) -> List[str]:
    """Class names, one a line (labelme's ``labels.txt``: ``__ignore__``
    and ``_background_`` lines are dropped later, blank lines here)."""
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def convert_splits(fmt: str, sources: Dict[str, str], out_dir: str,
                   classes: Optional[Sequence[str]] = None,
                   img_dirs: Sequence[str] = (), difficult: str = 'ignore',
                   include_unlabelled: bool = False) -> Dict[str, dict]:
    """Convert every split and write ``out_dir/annotations/{split}.json``.

    Args:
        fmt: One of :data:`FORMATS`.
        sources: Split name to folder (voc, labelme) or json file (coco),
            e.g. ``{'train': 'raw/train', 'val': 'raw/val'}``.
        out_dir: Output folder; ``file_name`` values are relative to it, so
            it is the config's ``data_root``. The images are not copied.
        classes: Class names in label order; default: for coco the
            declared categories in id order (:func:`~.coco.
            declared_classes`), else all names found in all splits, sorted
            (:func:`~.records.class_list`).
        img_dirs, include_unlabelled: See :func:`read_split`.
        difficult: See :func:`~.records.to_coco`.

    Returns:
        dict: Split name to the COCO dict written.
    """
    splits = {name: read_split(fmt, src, img_dirs, include_unlabelled)
              for name, src in sources.items()}
    if fmt == 'coco' and classes is None:
        classes = declared_classes(list(sources.values()))
    names = class_list(splits, classes)
    cocos = {}
    for split, records in splits.items():
        cocos[split] = to_coco(records, names, out_dir, difficult)
        write_json(cocos[split],
                   osp.join(out_dir, 'annotations', f'{split}.json'))
    return cocos


def config_lines(out_dir: str, cocos: Dict[str, dict]) -> List[str]:
    """The lines to put in a copy of ``configs/custom/`` 's template."""
    classes = tuple(c['name'] for c in next(iter(cocos.values()))
                    ['categories'])
    root = out_dir.replace('\\', '/').rstrip('/') + '/'
    return [f'data_root = {root!r}', f'classes = {classes!r}']
