"""Convert VOC XML folders, labelme JSON folders or COCO jsons to the COCO
json files a yolox_mm config reads (docs/custom_dataset.md).

Usage::

    python tools/dataset_converters/to_coco.py {voc,labelme,coco} \\
        --train SRC --val SRC [--test SRC] --out-dir DIR \\
        [--classes A B ... | --classes-file labels.txt] [--img-dir DIR ...] \\
        [--difficult {ignore,keep,drop}] [--include-unlabelled]

``SRC`` is a folder of ``*.xml`` (voc) or ``*.json`` (labelme) files, or a
COCO json file (coco). Writes ``DIR/annotations/{train,val,test}.json``
with ``file_name`` relative to ``DIR`` (images are not copied), one class
list for all splits, ids from 1, ``_background_`` left out. Prints one
summary line per split and the two lines to put in a copy of
``configs/custom/yolox_s_1xb8-100e_custom.py``. See
:mod:`yolox_mm.datasets.converters`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from yolox_mm.datasets.converters import (  # noqa: E402
    DIFFICULT_MODES, FORMATS, config_lines, convert_splits, read_class_file,
    summarize)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('format', choices=FORMATS)
    for split in ('train', 'val', 'test'):
        parser.add_argument(f'--{split}', help=f'{split} folder or json')
    parser.add_argument('--out-dir', required=True,
                        help='output folder (the config\'s data_root)')
    classes = parser.add_mutually_exclusive_group()
    classes.add_argument('--classes', nargs='+',
                         help='class names in label order (default: all '
                         'names found in all splits, sorted)')
    classes.add_argument('--classes-file',
                         help='class names, one a line (labelme labels.txt)')
    parser.add_argument('--img-dir', action='append', default=[],
                        help='other folder to look for images in '
                        '(repeatable)')
    parser.add_argument('--difficult', choices=DIFFICULT_MODES,
                        default='ignore',
                        help='difficult boxes: ignored (iscrowd=1, default),'
                        ' kept as ordinary boxes, or dropped')
    parser.add_argument('--include-unlabelled', action='store_true',
                        help='add images without an annotation file as '
                        'images without boxes (voc, labelme)')
    args = parser.parse_args(argv)
    if not args.train:
        parser.error('--train is required')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sources = {s: getattr(args, s) for s in ('train', 'val', 'test')
               if getattr(args, s)}
    classes = args.classes or (read_class_file(args.classes_file)
                               if args.classes_file else None)
    try:
        cocos = convert_splits(args.format, sources, args.out_dir, classes,
                               args.img_dir, args.difficult,
                               args.include_unlabelled)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    for split, coco in cocos.items():
        print(summarize(split, coco))
    print(f'wrote {osp.join(args.out_dir, "annotations")}/'
          f'{{{",".join(cocos)}}}.json; in your copy of '
          'configs/custom/yolox_s_1xb8-100e_custom.py set:')
    for line in config_lines(args.out_dir, cocos):
        print('    ' + line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
