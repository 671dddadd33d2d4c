"""Does mmengine's ``compile=True`` (torch.compile of ``model.train_step``)
work and pay on this CPU for the tree job? Times each iteration of a
compiled and a plain copy (scratch script for issue 12 item 3; not to be
merged as is).

Usage: PYTHONPATH=$PWD OMP_NUM_THREADS=1 python \
    _recipes_i12g/compile_check.py [--iters 12]
"""
import argparse
import time

import torch
from mmengine.logging import MessageHub
from mmengine.runner import Runner

from yolox_mm.utils.launch import read_config


def build(cfg_path):
    cfg = read_config(cfg_path)
    cfg.work_dir = '/tmp/i12g_compile'
    cfg.log_level = 'WARNING'
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    runner.model.train()
    wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    return runner.model, wrapper, loader


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--config',
                        default='configs/yolox_nano_1xb4-200e_deepforest.py')
    parser.add_argument('--iters', type=int, default=12)
    args = parser.parse_args()
    hub = MessageHub.get_current_instance()
    for name in ('compiled', 'plain'):
        model, wrapper, loader = build(args.config)
        step = model.train_step
        if name == 'compiled':
            step = torch.compile(step)
        it, times = iter(loader), []
        for i in range(args.iters):
            hub.update_info('iter', i)
            data = next(it, None)
            if data is None:
                it = iter(loader)
                data = next(it)
            start = time.perf_counter()
            step(data, wrapper)
            times.append(time.perf_counter() - start)
            print(f'{name} iter {i}: {times[-1]:.2f} s', flush=True)
        print(f'{name}: first {times[0]:.1f} s, total {sum(times):.1f} s, '
              f'last 5 median {sorted(times[-5:])[2]:.3f} s', flush=True)


if __name__ == '__main__':
    main()
