#!/usr/bin/env python
"""Convert the annotated aerial images of the ``deepforest`` wheel to tiled
COCO detection datasets (a thin CLI over
:mod:`yolox_mm.datasets.converters.deepforest`, which documents the tiling
and box rules).

Example::

    python tools/dataset_converters/deepforest_to_coco.py \
        --out-dir data/deepforest
    python tools/dataset_converters/deepforest_to_coco.py \
        --wheel /path/to/deepforest-2.1.0-py3-none-any.whl \
        --out-dir data/deepforest
"""
import argparse
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from yolox_mm.datasets.converters.deepforest import (  # noqa: E402
    DEEPFOREST_VERSION, MIN_TILE_SIDE, prepare_deepforest, summarize)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Tile the deepforest wheel VOC data into COCO json.')
    parser.add_argument('--out-dir', default='data/deepforest',
                        help='output folder (default: data/deepforest)')
    parser.add_argument(
        '--wheel', default=None,
        help=f'local deepforest-{DEEPFOREST_VERSION} wheel; if omitted it is '
             'fetched with pip download into <out-dir>/download')
    parser.add_argument(
        '--min-tile-side', type=int, default=MIN_TILE_SIDE,
        help='skip edge tiles whose width or height is below this many '
             'pixels (default 0: keep all tiles)')
    parser.add_argument('--force', action='store_true',
                        help='rebuild even if the outputs are complete')
    parser.add_argument('-v', '--verbose', action='store_true')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format='%(levelname)s %(name)s: %(message)s')
    cocos = prepare_deepforest(args.out_dir, args.wheel, args.min_tile_side,
                               args.force)
    for line in summarize(cocos):
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
