"""Train yolox_mm and mmdet 3.3.0's YOLOX with the same config, seed and
schedule, evaluate both, and print their bbox mAPs in one table.

Usage::

    python tools/analysis_tools/side_by_side.py [CONFIG] [--seeds 0 1]
        [--impl ours mmdet] [--runs ours:0 ours:1 mmdet:0]
        [--work-dir work_dirs/side_by_side] [--threads 1] [--jobs 1]
        [--noise-evals 5] [--cfg-options k=v ...] [--reuse] [--smoke]
        [--derive-only] [--table-only]

A thin CLI over :mod:`yolox_mm.analysis.side_by_side`, which documents the
derivation of the mmdet config, the runs, the metrics and the tables.
"""
import argparse
import os
import os.path as osp
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run from anywhere without installing
    sys.path.insert(0, str(REPO))

from yolox_mm.analysis.side_by_side.derive import \
    derive_mmdet_config  # noqa: E402
from yolox_mm.analysis.side_by_side.report import make_table  # noqa: E402
from yolox_mm.analysis.side_by_side.run_config import (  # noqa: E402
    load_our_config, write_run_configs)
from yolox_mm.analysis.side_by_side.runs import (IMPLS,  # noqa: E402
                                                 load_results, run_all)

DEFAULT_CONFIG = 'configs/yolox_nano_1xb4-200e_deepforest.py'
DEFAULT_WORK_DIR = 'work_dirs/side_by_side'
SMOKE_WORK_DIR = 'work_dirs/side_by_side_smoke'


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Train yolox_mm and mmdet 3.3.0 YOLOX with the same '
        'config, seed and schedule; print both bbox mAPs in one table.')
    p.add_argument('config', nargs='?', default=DEFAULT_CONFIG,
                   help=f'our config (default {DEFAULT_CONFIG})')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--impl', nargs='+', choices=IMPLS, default=list(IMPLS))
    p.add_argument('--runs', nargs='+', metavar='IMPL:SEED',
                   help='explicit runs instead of --impl x --seeds, e.g. '
                   'ours:0 ours:1 mmdet:0')
    p.add_argument('--work-dir', help=f'default {DEFAULT_WORK_DIR} '
                   f'({SMOKE_WORK_DIR} with --smoke)')
    p.add_argument('--threads', type=int, default=1,
                   help='OMP/MKL threads of each training (default 1)')
    p.add_argument('--jobs', type=int, default=1,
                   help='trainings run at the same time (default 1)')
    p.add_argument('--noise-evals', type=int, default=5,
                   help='last val evaluations used for the eval-to-eval '
                   'fluctuation (default 5)')
    p.add_argument('--reuse', action='store_true',
                   help='skip runs whose result.json has the same config')
    p.add_argument('--smoke', action='store_true',
                   help='2 epochs on 2 images: tests the machinery')
    p.add_argument('--table-only', action='store_true',
                   help='run nothing: make the table from the result.json '
                   'files of the runs in the work dir')
    p.add_argument('--derive-only', action='store_true',
                   help='write the configs and print the derivation only')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides merged into our config before the mmdet '
                   'config is derived (so they apply to both)')
    args = p.parse_args(argv)
    args.run_list = [(impl, s) for s in args.seeds for impl in args.impl]
    if args.runs:
        args.run_list = []
        for item in args.runs:
            impl, _, seed = item.partition(':')
            if impl not in IMPLS or not seed.lstrip('-').isdigit():
                p.error(f'--runs: expected IMPL:SEED with IMPL in {IMPLS}, '
                        f'got {item!r}')
            args.run_list.append((impl, int(seed)))
    if args.work_dir is None:
        args.work_dir = SMOKE_WORK_DIR if args.smoke else DEFAULT_WORK_DIR
    return args


def derive(args, work_dir: str) -> list:
    """Our config, the derived mmdet config (changes printed), the run
    configs written; returns the jobs."""
    ours_cfg = load_our_config(args.config, args.cfg_options, args.smoke)
    mmdet_cfg, changes = derive_mmdet_config(ours_cfg)
    print(f'mmdet config derived from {args.config}'
          f'{" (--smoke)" if args.smoke else ""}: {len(changes)} changes')
    for line in changes:
        print('  ' + line)
    print('  note   YOLOXModeSwitchHook: ours switches for exactly '
          'num_last_epochs epochs, mmdet\'s one epoch earlier (same '
          'num_last_epochs in both configs)')
    jobs = write_run_configs(ours_cfg, mmdet_cfg, args.run_list, work_dir)
    print(f'configs written to {osp.join(work_dir, "configs")}')
    return jobs


def write_report(args, work_dir: str, results: list, total=None) -> int:
    header = (f'# yolox_mm vs mmdet 3.3.0: {args.config}\n\n'
              f'command: `{" ".join([sys.executable] + sys.argv)}`  \n')
    if total is not None:
        header += (f'threads per training: {args.threads}, trainings at a '
                   f'time: {args.jobs}, total wall {total / 60:.1f} min\n')
    table = make_table(results, args.noise_evals)
    print('\n' + table)
    md = osp.join(work_dir, 'side_by_side.md')
    Path(md).write_text(header + '\n' + table)
    print(f'written to {md}')
    return 0 if all(r.get('ok') for r in results) else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    os.chdir(REPO)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    if args.table_only:
        return write_report(args, work_dir,
                            load_results(work_dir, args.run_list))
    jobs = derive(args, work_dir)
    if args.derive_only:
        return 0
    lock = threading.Lock()

    def say(msg):
        with lock:
            print(time.strftime('%H:%M:%S'), msg, flush=True)

    t0 = time.perf_counter()
    results = run_all(jobs, args.threads, args.reuse, args.jobs, say)
    return write_report(args, work_dir, results, time.perf_counter() - t0)


if __name__ == '__main__':
    sys.exit(main())
