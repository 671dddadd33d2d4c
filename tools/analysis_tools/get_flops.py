"""Parameters and GFLOPs of configs (our conv counter,
:func:`yolox_mm.utils.complexity`; 2 x multiply-adds of every Conv2d of one
forward, no post-processing).

Usage::

    python tools/analysis_tools/get_flops.py CONFIG [CONFIG ...] [--shape H W]

Without ``--shape`` the input is the config's test size (its
``test_pipeline`` ``Resize`` scale, square pad). Prints one Markdown table
row per config.
"""
import argparse
import os.path as osp
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run from anywhere without installing
    sys.path.insert(0, str(REPO))

from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402


def test_size(cfg: Config):
    """``(H, W)`` of the config's test ``Resize`` (``scale`` is (w, h))."""
    for step in cfg.test_pipeline:
        if step['type'] == 'Resize':
            width, height = step['scale']
            return height, width
    raise ValueError('no Resize in test_pipeline; pass --shape H W')


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'))
    args = parser.parse_args(argv)

    import yolox_mm  # noqa: F401  (registration)
    from yolox_mm.registry import MODELS
    from yolox_mm.utils import complexity
    print('| config | input | parameters | GFLOPs |')
    print('|---|---|---|---|')
    for path in args.configs:
        cfg = Config.fromfile(path)
        shape = tuple(args.shape) if args.shape else test_size(cfg)
        with DefaultScope.overwrite_default_scope('yolox_mm'):
            model = MODELS.build(cfg.model)
        params, gflops = complexity(model, shape)
        print(f'| {osp.basename(path)} | {shape[0]}x{shape[1]} | '
              f'{params:,} | {gflops:.2f} |')


if __name__ == '__main__':
    main()
