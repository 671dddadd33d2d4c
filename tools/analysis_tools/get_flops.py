"""FLOPs and parameters of a config's detector at a fixed input size (no
data needed; mmengine's ``get_model_complexity_info``)::

    python tools/analysis_tools/get_flops.py CONFIG [--shape H [W]]
        [--show-table] [--cfg-options k=v ...]

Default size: the config's ``img_scale``. Prints the multiply-adds
(mmengine's "flops") and the paper's GFLOPs (2 x multiply-adds, as Megvii
reports them: YOLOX-s 26.8 at 640, YOLOX-nano 1.08 at 416).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmengine.config import DictAction  # noqa: E402

from yolox_mm.utils.launch import read_config  # noqa: E402
from yolox_mm.analysis.complexity import (build_model,  # noqa: E402
                                          default_input_shape,
                                          model_complexity)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=None,
                        help='input height and width (one value: square); '
                        "default: the config's img_scale")
    parser.add_argument('--show-table', action='store_true',
                        help='print the per-module table')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = read_config(args.config, args.cfg_options)
    if args.shape is None:
        shape = default_input_shape(cfg)
    elif len(args.shape) in (1, 2):
        shape = (args.shape[0], args.shape[-1])
    else:
        sys.exit(f'--shape takes H or H W, got {args.shape}')
    result = model_complexity(build_model(cfg), shape,
                              show_table=args.show_table)
    if result.table:
        print(result.table)
    h, w = result.input_shape
    print(f'{osp.basename(args.config)}: input 1x3x{h}x{w}\n'
          f'multiply-adds: {result.macs / 1e9:.3f} G '
          '(mmengine "flops")\n'
          f'GFLOPs (2 x multiply-adds, the paper\'s unit): '
          f'{result.gflops:.2f}\n'
          f'parameters: {result.params:,} ({result.params / 1e6:.2f} M)')


if __name__ == '__main__':
    main()
