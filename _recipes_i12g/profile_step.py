"""Profile of the `make trees` training iteration (issue 12 item 3 search;
a scratch script, not a tool: not to be merged as is).

Usage (worktree root):
  PYTHONPATH=$PWD OMP_NUM_THREADS=1 python _recipes_i12g/profile_step.py \
      [CONFIG] [--iters 30] [--variants default,channels_last]

Per iteration, the phases of mmengine's train loop done by hand (data wait,
data preprocessor with BatchSyncRandomResize, forward + loss, backward,
SGD step, EMA update), with the model's parts timed by wrappers (backbone,
neck, head forward, loss_by_feat and the assigner inside it). Then one
torch.profiler pass grouping ops (convolutions split depthwise / dense by
the weight shape). Variants are timed interleaved (a load change hits
all); fractions are what to read on a shared machine.
"""
import argparse
import collections
import random
import statistics
import time

import torch
from mmdet.models.layers import ExpMomentumEMA
from mmengine.logging import MessageHub
from mmengine.runner import Runner

from yolox_mm.utils.launch import read_config

CLOCK = time.perf_counter


def timed(store, name, fn):
    def wrapper(*args, **kwargs):
        start = CLOCK()
        out = fn(*args, **kwargs)
        store[name] += CLOCK() - start
        return out
    return wrapper


def build(cfg_path, channels_last):
    cfg = read_config(cfg_path)
    cfg.work_dir = '/tmp/i12g_profile'
    cfg.log_level = 'WARNING'
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    model = runner.model
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    ema = ExpMomentumEMA(model, momentum=0.0002, update_buffers=True)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    store = collections.defaultdict(float)
    for part in ('backbone', 'neck', 'bbox_head'):
        mod = getattr(model, part)
        mod.forward = timed(store, part + '.forward', mod.forward)
    head = model.bbox_head
    head.loss_by_feat = timed(store, 'loss_by_feat', head.loss_by_feat)
    head._assign = timed(store, 'assign (in loss)', head._assign)
    return dict(model=model, wrapper=wrapper, ema=ema, loader=loader,
                it=iter(loader), store=store, cl=channels_last, times=[])


def next_batch(v):
    try:
        return next(v['it'])
    except StopIteration:
        v['it'] = iter(v['loader'])
        return next(v['it'])


def step(v):
    model, wrapper, store = v['model'], v['wrapper'], v['store']
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', len(v['times']) + v.setdefault('done', 0))
    t0 = CLOCK()
    data = next_batch(v)
    t1 = CLOCK()
    # BatchSyncRandomResize draws from python's random: the same sizes for
    # every variant at a given iteration
    random.seed(len(v['times']))
    data = model.data_preprocessor(data, True)
    if v['cl']:
        data['inputs'] = data['inputs'].contiguous(
            memory_format=torch.channels_last)
    t2 = CLOCK()
    losses = model._run_forward(data, mode='loss')
    loss, _ = model.parse_losses(losses)
    t3 = CLOCK()
    wrapper.backward(loss)
    t4 = CLOCK()
    wrapper.step()
    wrapper.zero_grad()
    t5 = CLOCK()
    v['ema'].update_parameters(model)
    t6 = CLOCK()
    for name, dt in (('data wait', t1 - t0), ('preprocess+resize', t2 - t1),
                     ('forward+loss', t3 - t2), ('backward', t4 - t3),
                     ('SGD step', t5 - t4), ('EMA update', t6 - t5)):
        store[name] += dt
    v['times'].append(t6 - t0)


def op_groups(prof):
    groups = collections.defaultdict(float)
    for ev in prof.key_averages(group_by_input_shape=True):
        name, us = ev.key, ev.self_cpu_time_total
        shapes = ev.input_shapes or []
        if name in ('aten::convolution', 'aten::_convolution',
                    'aten::conv2d'):
            continue  # wrappers; their kernels are counted below
        if 'conv' in name and name.startswith('aten::'):
            # forward (input, weight, ...); backward (grad, input, weight)
            wi = 2 if 'backward' in name else 1
            w = shapes[wi] if len(shapes) > wi else []
            dw = len(w) == 4 and w[1] == 1 and w[0] > 1
            k = f'{w[-1]}x{w[-2]}' if len(w) == 4 else '?'
            kind = 'backward' if 'backward' in name else 'forward'
            kernel = name.replace('aten::', '').replace('_backward', '')
            groups[f'conv {"dw" if dw else "dense"} {k} {kind} '
                   f'[{kernel}]'] += us
        elif 'batch_norm' in name:
            groups['batch norm (fwd+bwd)'] += us
        elif 'silu' in name or 'sigmoid' in name:
            groups['SiLU/sigmoid (fwd+bwd)'] += us
        else:
            groups['other: ' + name] += us
    return groups


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('config', nargs='?',
                        default='configs/yolox_nano_1xb4-200e_deepforest.py')
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--variants', default='default,channels_last')
    parser.add_argument('--prof-iters', type=int, default=10)
    args = parser.parse_args()
    names = args.variants.split(',')
    # channels_last: model and inputs NHWC; cl_weights: the model only
    # (what ChannelsLastHook does); default: NCHW
    vs = {n: build(args.config, n in ('channels_last', 'cl_weights'))
          for n in names}
    for n in names:
        vs[n]['cl'] = n == 'channels_last'
    for _ in range(args.warmup):
        for v in vs.values():
            step(v)
    for v in vs.values():
        v['store'].clear()
        v['times'].clear()
    for _ in range(args.iters):
        for v in vs.values():
            step(v)
    base = statistics.median(vs[names[0]]['times'])
    for n, v in vs.items():
        med = statistics.median(v['times'])
        total = sum(v['times'])
        print(f'== {n}: median {med * 1e3:.0f} ms/iter '
              f'(ratio to {names[0]}: {base / med:.2f}x), '
              f'threads {torch.get_num_threads()}')
        for k, s in sorted(v['store'].items(), key=lambda kv: -kv[1]):
            print(f'   {k:24s} {100 * s / total:5.1f} %')
    if args.prof_iters == 0:
        return
    from torch.profiler import ProfilerActivity, profile
    v = vs[names[0]]
    with profile(activities=[ProfilerActivity.CPU],
                 record_shapes=True) as prof:
        for _ in range(args.prof_iters):
            step(v)
    groups = op_groups(prof)
    total = sum(groups.values())
    print(f'== op groups ({names[0]}, self CPU time, {args.prof_iters} '
          'iterations)')
    for k, us in sorted(groups.items(), key=lambda kv: -kv[1])[:25]:
        print(f'   {k:40s} {100 * us / total:5.1f} %')


if __name__ == '__main__':
    main()
