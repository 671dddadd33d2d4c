"""Convert an official Megvii YOLOX checkpoint to a yolox_mm checkpoint.

Usage::

    python tools/model_converters/yolox_to_yolox_mm.py SRC DST [--scale S]

A thin CLI over :mod:`yolox_mm.utils.megvii_checkpoint` (the key map, the
rules and the checks are documented there). mmdet 3.x checkpoints need no
conversion.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from yolox_mm.utils.megvii_checkpoint import (DARKNET,  # noqa: E402
                                              SCALES, convert_checkpoint)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a Megvii YOLOX checkpoint to yolox_mm '
        '(mmdet 3.x checkpoints need no conversion)')
    parser.add_argument('src', help='Megvii checkpoint, e.g. yolox_s.pth')
    parser.add_argument('dst', help='output checkpoint path')
    parser.add_argument('--scale', choices=list(SCALES) + [DARKNET],
                        help='fail unless the weights are this scale')
    parser.add_argument('--trust-source', action='store_true',
                        help='load with torch.load(weights_only=False); '
                        'only for files you trust')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        checkpoint = convert_checkpoint(args.src, args.dst, args.scale,
                                        args.trust_source)
    except ValueError as err:  # a wrong input file: message, no traceback
        sys.exit(f'error: {err}')
    meta = checkpoint['meta']
    print(f"{args.src} -> {args.dst}: YOLOX-{meta['scale'] or '(custom)'}, "
          f"{meta['num_classes']} classes, "
          f"{len(checkpoint['state_dict'])} tensors")


if __name__ == '__main__':
    main()
