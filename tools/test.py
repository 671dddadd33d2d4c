"""Evaluate a checkpoint with a yolox_mm (or mmdet) config.

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
       [--out results.pkl] [--show-dir DIR]
       [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

Ends with one line ``bbox mAP = ..., mAP@0.5 = ...`` when the evaluator is
a COCO bbox metric.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from yolox_mm.utils import check_data_paths  # noqa: E402
from yolox_mm.utils.launch import prepare_launch  # noqa: E402


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
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. key=value or key="[a,b]"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
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
    try:
        check_data_paths(cfg, loaders=('test_dataloader', ))
    except FileNotFoundError as e:
        sys.exit(f'{args.config}: {e}')
    prepare_launch(cfg)

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
    metrics = runner.test()
    if runner.rank == 0 and 'coco/bbox_mAP' in metrics:
        print(f"bbox mAP = {metrics['coco/bbox_mAP']:.3f}, "
              f"mAP@0.5 = {metrics['coco/bbox_mAP_50']:.3f}")


if __name__ == '__main__':
    main()
