"""Speed and memory of yolox_mm against mmdet 3.3.0 and (sections c, d, e)
Megvii's YOLOX (yolox-datamint 0.3.1), side by side.

Usage::

    .venv/bin/python tools/analysis_tools/benchmark.py            # all
    .venv/bin/python tools/analysis_tools/benchmark.py --sections ad
    .venv/bin/python tools/analysis_tools/benchmark.py --smoke    # CI, < 1 min
    .venv/bin/python tools/analysis_tools/benchmark.py --sections cde \
        --data-root data/deepforest/     # c on the tree tiles

A thin CLI over :mod:`yolox_mm.analysis.benchmark`, which documents what
each section measures and how. Tables go to stdout, progress to stderr;
the goals of the summary's ratios are in ``docs/benchmarks.md``.
"""
import argparse
import dataclasses
import os
import sys
import time
import warnings
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run from anywhere without installing
    sys.path.insert(0, str(REPO))

import mmdet  # noqa: E402

from yolox_mm.analysis.benchmark.run import (run_sections,  # noqa: E402
                                             summary_text)
from yolox_mm.analysis.benchmark.sizes import FULL, SMOKE  # noqa: E402
from yolox_mm.analysis.benchmark.sizes import Options  # noqa: E402
from yolox_mm.testing.reference import SCALES  # noqa: E402
from yolox_mm.testing.megvii import (INSTALL_HINT,  # noqa: E402
                                     megvii_available, megvii_version)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='yolox_mm vs mmdet 3.3.0 (and Megvii yolox 0.3.1 in c, '
        'd, e): SimOTA, loss, data pipeline, training iteration and '
        'inference, side by side.')
    parser.add_argument('--sections', default='abcde',
                        help='any of a (SimOTA), b (loss_by_feat), c (data '
                        'pipeline), d (training iteration), e (inference); '
                        'default abcde')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny sizes and 1 repeat (CI, < 1 min)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch.set_num_threads (default 1)')
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed runs per case (median); default 5')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed runs per case first; default 1')
    parser.add_argument('--gts', type=int, nargs='+', default=None,
                        help='GT per image of sections a and b; default '
                        '5 50 200 1000')
    parser.add_argument('--time-budget', type=float, default=60.0,
                        help='seconds of timed runs per implementation and '
                        'case in a/b: a case whose warm-up took longer than '
                        'budget/repeats is timed fewer times (default 60)')
    parser.add_argument('--max-mem-gb', type=float, default=6.0,
                        help='memory a case may need (default 6; capped at '
                        '60%% of MemAvailable); mmdet at 1000 GT needs ~7.5')
    parser.add_argument('--data-root', default=None,
                        help='section c on a real COCO-format set, e.g. '
                        'data/deepforest/ (default: synthetic JPEGs)')
    parser.add_argument('--ann-file', default='annotations/train.json',
                        help='relative to --data-root')
    parser.add_argument('--img-prefix', default='images/',
                        help='relative to --data-root')
    parser.add_argument('--num-images', type=int, default=None,
                        help='size of the synthetic set (default 200)')
    parser.add_argument('--d-scale', default=None,
                        choices=SCALES,
                        help='model of section d (default s; nano with '
                        '--d-size 416 is the tree job\'s model)')
    parser.add_argument('--d-size', type=int, default=None,
                        help='input side of section d (default 640)')
    parser.add_argument('--profile', action='store_true',
                        help='print torch.profiler top ops of ours in a '
                        '(G=50) and d')
    parser.add_argument('--no-megvii', action='store_true',
                        help='leave out the Megvii column of c, d and e '
                        '(needed when yolox-datamint is not installed)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    unknown = set(args.sections) - set('abcde')
    if unknown:
        parser.error(f'--sections takes letters of abcde, got {args.sections}')
    return args


def sizes_and_options(args: argparse.Namespace):
    """The :class:`Sizes` and :class:`Options` that ``args`` ask for."""
    sizes = SMOKE if args.smoke else FULL
    overrides = {key: getattr(args, key)
                 for key in ('repeats', 'warmup', 'd_scale', 'd_size')
                 if getattr(args, key) is not None}
    if args.gts:
        overrides['a_gts'] = tuple(args.gts)
    opts = Options(threads=args.threads, seed=args.seed,
                   time_budget=args.time_budget, max_mem_gb=args.max_mem_gb,
                   profile=args.profile, data_root=args.data_root,
                   ann_file=args.ann_file, img_prefix=args.img_prefix,
                   num_images=args.num_images, megvii=not args.no_megvii)
    return dataclasses.replace(sizes, **overrides), opts


def progress(message: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(f'  [{time.strftime("%H:%M:%S")}] {message}', file=sys.stderr,
          flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes, opts = sizes_and_options(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    warnings.filterwarnings('ignore', category=FutureWarning)
    warnings.filterwarnings('ignore', message='torch.meshgrid')
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    with_megvii = opts.megvii and bool(set(args.sections) & set('cde'))
    if with_megvii and not megvii_available():
        print('Megvii YOLOX (yolox) is not installed: install it '
              f'({INSTALL_HINT}) or pass --no-megvii', file=sys.stderr)
        return 2
    start = time.perf_counter()
    megvii = f', Megvii yolox {megvii_version()}' if with_megvii else ''
    print(f'yolox_mm vs mmdet {mmdet.__version__}{megvii}, torch '
          f'{torch.__version__}'
          f', {os.cpu_count()} CPU(s), torch threads {args.threads}'
          + (' [SMOKE: tiny sizes, ratios not meaningful]'
             if args.smoke else ''), flush=True)
    results = run_sections(args.sections, sizes, opts, progress,
                           done=lambda r: print(r.text(), flush=True))
    print(summary_text(results, args.smoke))
    print(f'\ntotal time {time.perf_counter() - start:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
