"""Drop the class-prediction layers of a checkpoint, to fine-tune it with
another ``num_classes``.

Usage::

    python tools/model_converters/drop_head.py SRC DST [--prefix P ...]

``SRC`` is any yolox_mm / mmdet YOLOX checkpoint (or a converted Megvii
one), loaded weights-only. ``DST`` holds ``{'meta', 'state_dict'}`` without
the keys starting with ``bbox_head.multi_level_conv_cls.`` (or with the
``--prefix`` values, e.g. ``--prefix bbox_head.`` for the whole head); use
it as ``load_from``. See :func:`yolox_mm.utils.checkpoint.drop_head`.
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from yolox_mm.utils.checkpoint import (  # noqa: E402
    CLASS_PREDICTION_PREFIXES, drop_head, load_local_checkpoint)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint to read')
    parser.add_argument('dst', help='checkpoint to write')
    parser.add_argument(
        '--prefix',
        action='append',
        help='drop the keys starting with this (repeatable); default: '
        f'{" ".join(CLASS_PREDICTION_PREFIXES)}')
    args = parser.parse_args(argv)
    checkpoint = load_local_checkpoint(args.src, map_location='cpu')
    try:
        out = drop_head(checkpoint, args.prefix or CLASS_PREDICTION_PREFIXES)
    except KeyError as e:
        sys.exit(f'{args.src}: {e.args[0]}')
    torch.save(out, args.dst)
    print(f'{args.dst}: dropped {len(out["meta"]["dropped_keys"])} '
          f'tensors ({", ".join(out["meta"]["dropped_keys"])}), kept '
          f'{len(out["state_dict"])}')


if __name__ == '__main__':
    main()
