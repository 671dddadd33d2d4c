"""Section d: one training iteration, ``model.train_step`` = data
preprocessor (no batch resize) -> forward -> loss -> backward -> SGD step
(momentum 0.9, Nesterov, weight decay 5e-4) through an mmengine
``OptimWrapper``. mmdet's model from its config, ours from ours with
mmdet's state_dict loaded (identical keys)."""
import copy
from typing import Callable

import torch

from yolox_mm.testing.reference import build_detector
from yolox_mm.testing.synthetic import train_batch
from .loss import max_rel_diff
from .report import SectionResult, SummaryRow, fmt_ms, fmt_ratio
from .sizes import Options, Sizes
from .timing import profile_table, time_interleaved

HEADER = ('model', 'ours ms/iter', 'mmdet ms/iter', 'speed-up',
          'first-iter loss max rel. diff')


def _train_steps(sizes: Sizes, seed: int):
    """Per implementation: a ``train_step`` call on its own copy of the
    batch with its own optimiser, and the losses of a first call."""
    from mmengine.optim import OptimWrapper
    ref = build_detector('mmdet', sizes.d_scale, batch_augments=False)
    ours = build_detector('ours', sizes.d_scale, batch_augments=False)
    ours.load_state_dict(ref.state_dict(), strict=True)
    data = train_batch(sizes.d_batch, sizes.d_size, sizes.d_gts, seed)
    steps, first = {}, {}
    for name, model in (('ours', ours), ('mmdet', ref)):
        model.train()
        wrapper = OptimWrapper(torch.optim.SGD(
            model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
            weight_decay=5e-4))
        model_data = copy.deepcopy(data)
        first[name] = model.train_step(model_data, wrapper)
        steps[name] = (lambda m=model, d=model_data, w=wrapper:
                       m.train_step(d, w))
    return steps, first


def section_train(sizes: Sizes, opts: Options,
                  progress: Callable[[str], None] = lambda line: None
                  ) -> SectionResult:
    """Section d: one row (the first call of each is its warm-up)."""
    scale, size, batch = sizes.d_scale, sizes.d_size, sizes.d_batch
    steps, first = _train_steps(sizes, opts.seed)
    times, _ = time_interleaved(steps, sizes.repeats,
                                max(0, sizes.warmup - 1))
    diff = max_rel_diff(first['ours'], first['mmdet'])
    speedup = times['mmdet'] / times['ours']
    result = SectionResult(
        f'(d) one training iteration, YOLOX-{scale} at {size}x{size}, '
        f'batch {batch}, {sizes.d_gts} GT/img (preprocess -> forward '
        f'-> loss -> backward -> SGD); {opts.threads} thread(s); median '
        f'of {sizes.repeats}', HEADER,
        [[f'YOLOX-{scale} {size}', fmt_ms(times['ours']),
          fmt_ms(times['mmdet']), fmt_ratio(speedup), f'{diff:.1e}']],
        summary=[SummaryRow(f'(d) train iteration YOLOX-{scale} {size} '
                            f'b{batch}', speedup)])
    if opts.profile:
        result.profiles.append(('(d) ours, one training iteration',
                                profile_table(steps['ours'])))
    return result
