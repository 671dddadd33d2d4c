"""Training curves and iteration times from a work dir's json log
(``WORK_DIR/<timestamp>/vis_data/scalars.json``, written by mmengine's
LocalVisBackend)::

    python tools/analysis_tools/analyze_logs.py plot_curve WORK_DIR_OR_JSON \\
        --out curves.png [--keys loss loss_cls ...] \\
        [--val-keys coco/bbox_mAP coco/bbox_mAP_50] [--title T]
    python tools/analysis_tools/analyze_logs.py cal_train_time WORK_DIR_OR_JSON

``plot_curve`` draws the training keys (default: every loss) against the
iteration and the validation metrics against the epoch into one PNG;
``cal_train_time`` prints the mean time per iteration of each epoch. The
sub-commands of mmdet's ``analyze_logs.py`` (which imports seaborn and
takes json files, not work dirs).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from yolox_mm.analysis.log_curves import (load_scalars,  # noqa: E402
                                          mean_iter_times, plot_curves)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='curves to a PNG')
    plot.add_argument('log', help='work dir or scalars json')
    plot.add_argument('--out', required=True, help='output image')
    plot.add_argument('--keys', nargs='+', default=(),
                      help='training keys (default: every loss)')
    plot.add_argument('--val-keys', nargs='+',
                      default=('coco/bbox_mAP', 'coco/bbox_mAP_50'),
                      help='validation metrics')
    plot.add_argument('--title', default='', help='figure title')
    times = sub.add_parser('cal_train_time', help='time per iteration')
    times.add_argument('log', help='work dir or scalars json')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        scalars = load_scalars(args.log)
        if args.task == 'plot_curve':
            plot_curves(scalars, args.out, args.keys, args.val_keys,
                        args.title)
            val = {k: v[-1] for k, v in scalars.val.items()
                   if k in args.val_keys}
            print(f'saved {args.out}: {len(scalars.train)} training curves, '
                  f'last validation {val or "none"}')
            return
        epochs = mean_iter_times(scalars)
    except (FileNotFoundError, KeyError, ValueError) as e:
        sys.exit(f'analyze_logs: {e}')
    for epoch, seconds in epochs:
        print(f'epoch {epoch}: {seconds:.4f} s/iter')
    slowest = max(epochs, key=lambda e: e[1])
    fastest = min(epochs, key=lambda e: e[1])
    mean = sum(s for _, s in epochs) / len(epochs)
    print(f'slowest epoch {slowest[0]} ({slowest[1]:.4f} s/iter), fastest '
          f'epoch {fastest[0]} ({fastest[1]:.4f} s/iter), mean '
          f'{mean:.4f} s/iter')


if __name__ == '__main__':
    main()
