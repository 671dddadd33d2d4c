"""Section d: one training iteration, ``model.train_step`` = data
preprocessor (no batch resize) -> forward -> loss -> backward -> SGD step
(momentum 0.9, Nesterov, weight decay 5e-4) through an mmengine
``OptimWrapper``. mmdet's model from its config, ours from ours with
mmdet's state_dict loaded (identical keys). Megvii's ``YOLOX`` (YOLOPAFPN +
YOLOXHead of yolox-datamint 0.3.1, ``exps/default/yolox_{scale}.py``) gets
the same weights through the key map
(:func:`yolox_mm.testing.megvii.load_ours_into_megvii`) and the same batch
(GTs as its padded cxcywh targets); its iteration is forward with
``get_losses`` -> backward -> SGD step with the same hyper-parameters
(:func:`~.megvii.megvii_train_step`). The losses of each first iteration
(same weights, same batch) are compared with ours. A fourth column is ours
with NHWC weights (a copy converted as ``ChannelsLastHook`` does, on in the
tree config): same weights and batch, the same losses up to float
rounding, which untrained weights amplify (docs/benchmarks.md)."""
import copy
from typing import Callable

import torch

from yolox_mm.testing.reference import build_detector
from yolox_mm.testing.synthetic import train_batch
from .loss import max_rel_diff
from .megvii import megvii_train_step, use_megvii
from .report import SectionResult, SummaryRow, fmt_ms, fmt_ratio
from .sizes import Options, Sizes
from .timing import profile_table, time_interleaved

HEADER = ('model', 'ours ms/iter', 'mmdet ms/iter', 'Megvii ms/iter',
          'speed-up vs mmdet', 'speed-up vs Megvii',
          'first-iter loss max rel. diff', 'vs Megvii', 'ours NHWC ms/iter',
          'NHWC vs ours', 'NHWC loss diff')
LOSS_NOTE = ('first-iter loss max rel. diff: largest |ours - ref| / |ref| '
             'over the loss terms and their sum of the first iteration '
             '(same weights, same batch), against mmdet, against Megvii '
             'and (NHWC loss diff) ours NHWC against ours')
NHWC_NOTE = ('ours NHWC: our model with its 4-d parameters converted to '
             'torch.channels_last, as ChannelsLastHook does in training')


def _models(sizes: Sizes, with_megvii: bool) -> dict:
    """mmdet's model, ours and (``with_megvii``) Megvii's with the same
    weights, before any step."""
    ref = build_detector('mmdet', sizes.d_scale, batch_augments=False)
    ours = build_detector('ours', sizes.d_scale, batch_augments=False)
    ours.load_state_dict(ref.state_dict(), strict=True)
    models = dict(ours=ours, mmdet=ref, ours_nhwc=copy.deepcopy(ours).to(
        memory_format=torch.channels_last))
    if with_megvii:
        from yolox_mm.testing.megvii import build_megvii, load_ours_into_megvii
        models['megvii'] = load_ours_into_megvii(
            build_megvii(sizes.d_scale), ours.state_dict())
    return models


def _train_steps(sizes: Sizes, seed: int, with_megvii: bool):
    """Per implementation: a training-iteration call on its own copy of the
    batch with its own optimiser, and the losses of a first call."""
    from mmengine.optim import OptimWrapper
    models = _models(sizes, with_megvii)
    data = train_batch(sizes.d_batch, sizes.d_size, sizes.d_gts, seed)
    steps, first = {}, {}
    for name, model in models.items():
        model_data = copy.deepcopy(data)
        if name == 'megvii':
            steps[name] = megvii_train_step(model, model_data)
        else:
            model.train()
            wrapper = OptimWrapper(torch.optim.SGD(
                model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                weight_decay=5e-4))
            steps[name] = (lambda m=model, d=model_data, w=wrapper:
                           m.train_step(d, w))
        first[name] = steps[name]()
    return steps, first


def _row(label: str, times: dict, first: dict) -> list:
    mv = times.get('megvii')
    diff_mv = (max_rel_diff(first['ours'], first['megvii'])
               if mv is not None else None)
    return [label, fmt_ms(times['ours']), fmt_ms(times['mmdet']),
            fmt_ms(mv), fmt_ratio(times['mmdet'] / times['ours']),
            fmt_ratio(None if mv is None else mv / times['ours']),
            f'{max_rel_diff(first["ours"], first["mmdet"]):.1e}',
            '-' if diff_mv is None else f'{diff_mv:.1e}',
            fmt_ms(times['ours_nhwc']),
            fmt_ratio(times['ours'] / times['ours_nhwc']),
            f'{max_rel_diff(first["ours_nhwc"], first["ours"]):.1e}']


def section_train(sizes: Sizes, opts: Options,
                  progress: Callable[[str], None] = lambda line: None
                  ) -> SectionResult:
    """Section d: one row (the first call of each is its warm-up)."""
    scale, size, batch = sizes.d_scale, sizes.d_size, sizes.d_batch
    steps, first = _train_steps(sizes, opts.seed, use_megvii(opts))
    times, _ = time_interleaved(steps, sizes.repeats,
                                max(0, sizes.warmup - 1))
    label = f'YOLOX-{scale} {size}'
    what = f'(d) train iteration YOLOX-{scale} {size} b{batch}'
    summary = [SummaryRow(f'{what}, vs mmdet',
                          times['mmdet'] / times['ours'])]
    if 'megvii' in times:
        summary.append(SummaryRow(f'{what}, vs Megvii',
                                  times['megvii'] / times['ours']))
    summary.append(SummaryRow(f'{what}, ours NHWC vs ours',
                              times['ours'] / times['ours_nhwc']))
    result = SectionResult(
        f'(d) one training iteration, YOLOX-{scale} at {size}x{size}, '
        f'batch {batch}, {sizes.d_gts} GT/img (preprocess -> forward '
        f'-> loss -> backward -> SGD); {opts.threads} thread(s); median '
        f'of {sizes.repeats}', HEADER, [_row(label, times, first)],
        notes=[LOSS_NOTE, NHWC_NOTE], summary=summary)
    if opts.profile:
        result.profiles.append(('(d) ours, one training iteration',
                                profile_table(steps['ours'])))
    return result
