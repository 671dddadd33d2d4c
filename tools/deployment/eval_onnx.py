"""Accuracy and latency of ONNX files of ``export_onnx.py`` (fp32 or INT8)
with onnxruntime, side by side.

Accuracy: the config's test split, test pipeline and ``test_evaluator``
(the evaluator of ``tools/test.py``); only the model call is onnxruntime.
Latency: median of interleaved runs on the first training image through the
test pipeline (so a change
in machine load affects every file alike), for each ``--threads`` value;
ratios are against the first file.

Example::

    python tools/deployment/eval_onnx.py CONFIG tree.onnx tree_int8.onnx \\
        --threads 1 2
"""
import os.path as osp
from argparse import ArgumentParser

from mmengine.config import DictAction

from yolox_mm.utils.launch import read_config


def parse_args():
    parser = ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='Config of the exported model.')
    parser.add_argument('models', nargs='+', help='ONNX files.')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2],
                        help='onnxruntime intra-op threads (default 1 2).')
    parser.add_argument('--repeats', type=int, default=50,
                        help='Timed runs per file and thread count.')
    parser.add_argument('--no-accuracy', action='store_true',
                        help='Latency only.')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='Override config settings, as in test.py.')
    return parser.parse_args()


def main():
    args = parse_args()
    from yolox_mm.deploy.onnx_eval import (calibration_batches,
                                           evaluate_onnx, time_sessions)
    cfg = read_config(args.config, args.cfg_options)
    cfg.test_dataloader.batch_size = 1  # static exports take one image
    names = [osp.basename(m) for m in args.models]
    if not args.no_accuracy:
        for name, model in zip(names, args.models):
            metrics = evaluate_onnx(cfg, model, threads=max(args.threads))
            shown = ', '.join(f'{k.split("/")[-1]} = {v:.3f}'
                              for k, v in metrics.items()
                              if k.endswith(('bbox_mAP', 'bbox_mAP_50')))
            print(f'{name}: {shown}')
    example = next(calibration_batches(cfg.copy(), 1))
    for threads in args.threads:
        times = time_sessions(args.models, example, threads, args.repeats)
        row = ', '.join(f'{n} {t:.1f} ms ({times[0] / t:.2f}x)'
                        for n, t in zip(names, times))
        print(f'latency, {threads} thread(s), median of {args.repeats}: '
              f'{row}')


if __name__ == '__main__':
    main()
