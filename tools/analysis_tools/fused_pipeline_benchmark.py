"""Fused training pipeline vs the three-step one, mmdet's and Megvii's.

Floor (decodes per sample x decode time + one resize), samples/s in one
process and with a 2-worker DataLoader, and (``--stats N``) the
ours-vs-fused comparison over N samples from the same seeds
(``yolox_mm.analysis.benchmark.fused_pipeline``)::

    .venv/bin/python tools/analysis_tools/fused_pipeline_benchmark.py \
        --data trees --scale 640
    .venv/bin/python tools/analysis_tools/fused_pipeline_benchmark.py \
        --data synthetic --scale 416 --stats 0
    .venv/bin/python tools/analysis_tools/fused_pipeline_benchmark.py \
        --data trees --stats 1000 --pipelines three_step fused
"""
import argparse
import os
import tempfile

import torch

from yolox_mm.analysis.benchmark.fused_pipeline import (PIPELINES, run,
                                                        synthetic_set)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', choices=('trees', 'synthetic'),
                        default='trees',
                        help='tree tiles (data/deepforest, PNG) or '
                        'synthetic 640x480 JPEGs')
    parser.add_argument('--scale', type=int, default=640,
                        help='canvas side (px)')
    parser.add_argument('--samples', type=int, default=64,
                        help='samples per timed pass in one process')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--batches', type=int, default=12,
                        help='timed DataLoader batches (batch 8)')
    parser.add_argument('--stats', type=int, default=0,
                        help='samples of the ours-vs-fused comparison')
    parser.add_argument('--num-images', type=int, default=200,
                        help='size of the synthetic set')
    parser.add_argument('--pipelines', nargs='+', default=list(PIPELINES),
                        choices=PIPELINES)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    kw = dict(scale=args.scale, samples=args.samples, repeats=args.repeats,
              batches=args.batches, stats_samples=args.stats,
              seed=args.seed, which=tuple(args.pipelines))
    if args.data == 'trees':
        lines = run('data/deepforest/', 'annotations/train.json', 'images/',
                    **kw)
    else:
        with tempfile.TemporaryDirectory(prefix='yolox_fused_') as root:
            ann, prefix = synthetic_set(root, args.num_images, (640, 480),
                                        args.seed)
            lines = run(root + '/', ann, prefix, **kw)
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
