"""Train a detector with a yolox_mm (or any mmdet) config.

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]
       [--amp] [--auto-scale-lr] [--tensorboard] [--cfg-options k=v ...]
       [--launcher {none,pytorch,slurm,mpi}]

``--resume`` and ``load_from`` load weights-only
(:func:`yolox_mm.utils.install_safe_checkpoint_loading`, installed by
``yolox_mm.utils.launch.build_runner``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from yolox_mm.utils.launch import (add_launch_args, build_runner,  # noqa: E402
                                   enable_tensorboard, load_config)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the LR by (total batch size / '
        'auto_scale_lr.base_batch_size)')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a path from the latest '
        'checkpoint of the work dir')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also log to TensorBoard (mmengine TensorboardVisBackend; '
        'event files in WORK_DIR/<timestamp>/vis_data)')
    add_launch_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('--auto-scale-lr needs '
                               'auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.tensorboard:
        enable_tensorboard(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    runner = build_runner(cfg, args.config)
    runner.train()


if __name__ == '__main__':
    main()
