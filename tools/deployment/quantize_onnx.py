"""INT8 post-training quantization of an ONNX file of ``export_onnx.py``.

Static quantization with onnxruntime's tools, calibrated on training images
of the config (through its test pipeline), the head's prediction
convolutions and everything after them kept in fp32
(``yolox_mm/deploy/onnx_quantize.py``). The INT8 file has the same input,
outputs and metadata, so ``demo/onnx_demo.py`` and
``tools/deployment/eval_onnx.py`` take it as they take the fp32 file.

Example::

    python tools/deployment/export_onnx.py CONFIG CKPT --out tree.onnx
    python tools/deployment/quantize_onnx.py CONFIG tree.onnx \\
        --out tree_int8.onnx --calib-images 34
    python tools/deployment/eval_onnx.py CONFIG tree.onnx tree_int8.onnx
"""
import logging
import time
from argparse import ArgumentParser

from mmengine.config import DictAction

from yolox_mm.utils.launch import read_config


def parse_args():
    parser = ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='Config of the exported model.')
    parser.add_argument('model', help='fp32 ONNX file (static batch).')
    parser.add_argument('--out', required=True, help='INT8 ONNX file.')
    parser.add_argument('--calib-images', type=int, default=64,
                        help='Training images used for calibration '
                        '(default 64, fewer if the split is smaller).')
    parser.add_argument('--calib-method', default='MinMax',
                        choices=('MinMax', 'Entropy', 'Percentile'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='Override config settings, as in train.py.')
    return parser.parse_args()


def main():
    args = parse_args()
    logging.getLogger('root').setLevel(logging.WARNING)  # onnxruntime's
    from yolox_mm.deploy.onnx_eval import calibration_batches
    from yolox_mm.deploy.onnx_quantize import quantize_int8
    cfg = read_config(args.config, args.cfg_options)
    start = time.perf_counter()
    info = quantize_int8(args.model, args.out,
                         calibration_batches(cfg, args.calib_images),
                         calibrate_method=args.calib_method)
    print(f'{args.model} -> {args.out}: INT8 (QDQ, U8S8, per-channel), '
          f'calibrated on {info["calibration_batches"]} training images '
          f'({args.calib_method}) in {time.perf_counter() - start:.1f} s; '
          f'{len(info["fp32_nodes"])} nodes kept in fp32 (head prediction '
          'convolutions, decoding, NMS)')


if __name__ == '__main__':
    main()
