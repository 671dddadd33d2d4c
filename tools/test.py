"""Evaluate a checkpoint with a yolox_mm (or mmdet) config.

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
       [--out results.pkl] [--show-dir DIR] [--fuse-conv-bn]
       [--channels-last] [--classwise]
       [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

Ends with one line ``bbox mAP = ..., mAP@0.5 = ...`` when the evaluator is
a COCO bbox metric (with ``--classwise``, followed by one line of per-class
mAP). The checkpoint loads weights-only
(:func:`yolox_mm.utils.install_safe_checkpoint_loading`, installed by
``yolox_mm.utils.launch.build_runner``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from yolox_mm.utils import type_name  # noqa: E402
from yolox_mm.utils.launch import (add_launch_args, build_runner,  # noqa: E402
                                   enable_classwise, load_config)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a '
                                     'detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument('--out', help='dump predictions to a pickle file')
    parser.add_argument('--show-dir', help='save drawn predictions here '
                        '(relative to the work dir)')
    parser.add_argument('--wait-time', type=float, default=2)
    parser.add_argument(
        '--fuse-conv-bn',
        action='store_true',
        help='fold every BatchNorm into its convolution before testing '
        '(faster; same detections up to float rounding)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='run the model in channels_last (NHWC) memory format (faster '
        'on CPU; same detections up to float rounding)')
    parser.add_argument(
        '--classwise',
        action='store_true',
        help='also log the AP of every class (CocoMetric classwise=True)')
    add_launch_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.classwise:
        try:
            enable_classwise(cfg, keys=('test_evaluator', ))
        except ValueError as e:
            sys.exit(str(e))
    if args.show_dir:
        vis = cfg.default_hooks.visualization
        vis.draw = True
        vis.test_out_dir = args.show_dir
        vis.wait_time = args.wait_time
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            sys.exit(f'--out must end with .pkl or .pickle, got {args.out}')
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(
            dict(type='DumpDetResults', out_file_path=args.out))
    if args.fuse_conv_bn:
        # EMAHook swaps its copy's parameters with the model's position by
        # position, which fusing changes; when testing, both copies hold the
        # checkpoint's weights, so the swap changes nothing: drop the hook
        cfg.custom_hooks = [
            h for h in cfg.get('custom_hooks', [])
            if type_name(h.get('type', '')) != 'EMAHook'
        ]
    runner = build_runner(cfg, args.config, loaders=('test_dataloader', ))
    if args.fuse_conv_bn or args.channels_last:
        from mmengine.model import is_model_wrapper

        from yolox_mm.models.layers import optimize_for_inference
        runner.load_or_resume()  # the checkpoint first; test() then skips it
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        optimize_for_inference(model, fold_bn=args.fuse_conv_bn,
                               channels_last=args.channels_last)
    metrics = runner.test()
    if runner.rank == 0 and 'coco/bbox_mAP' in metrics:
        print(f"bbox mAP = {metrics['coco/bbox_mAP']:.3f}, "
              f"mAP@0.5 = {metrics['coco/bbox_mAP_50']:.3f}")
        per_class = [(k[5:-len('_precision')], v) for k, v in metrics.items()
                     if k.startswith('coco/') and k.endswith('_precision')]
        if per_class:
            print('bbox mAP per class: ' + ', '.join(
                f'{name} {value:.3f}' for name, value in per_class))


if __name__ == '__main__':
    main()
