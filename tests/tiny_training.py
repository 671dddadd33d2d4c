"""A tiny YOLOX-Nano training on the tree tiles, and probe hooks (tests).

:func:`write_tiny_config` writes a config that trains the tree config
(``configs/yolox_nano_1xb4-200e_deepforest.py``) for a few iterations: a
few images, 128 px, batch 2, no workers, no validation, a checkpoint every
epoch, fixed seed, the probe hooks below. The end-to-end tests
(``tests/test_tools/test_dist_train.py``, ``tests/test_engine/
test_resume.py``) run it; ``tools/train.py`` imports this module through
the config's ``custom_imports`` (the repository root is on ``sys.path``
there and in pytest).

The probe hooks write into the work dir, one file per rank
(``rank{R}_...``), so a multi-process run can be compared rank by rank:

- ``ProbeRankStateHook`` (``after_train``): ``rank{R}_state.pth`` with the
  trained parameters and buffers of the model (unwrapped from DDP) and, if
  an ``EMAHook`` is present, of its EMA model.
- ``ProbeEpochStateHook``: one JSON line per iteration in
  ``rank{R}_iters.jsonl`` (losses, shape of the first input image, the size
  ``BatchSyncRandomResize`` will use next) and one per epoch in
  ``rank{R}_epochs.jsonl`` (learning rates, the head's ``use_l1``, the
  dataset's ``skip_type_keys``, that size).
- ``ProbeLossNormHook`` (``before_train``): wraps ``reduce_mean`` in the
  YOLOX head module and writes, per call, the rank-local number of
  positives and the normaliser it returned to ``rank{R}_norm.jsonl``.
"""
import json
import os.path as osp
from pathlib import Path
from typing import Sequence

import torch
from mmengine.dist import get_rank
from mmengine.hooks import EMAHook, Hook
from mmengine.model import is_model_wrapper

from yolox_mm.registry import HOOKS


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _append_json(path: str, record: dict) -> None:
    with open(path, 'a') as f:
        f.write(json.dumps(record) + '\n')


@HOOKS.register_module()
class ProbeRankStateHook(Hook):
    """Save this rank's final model (and EMA model) tensors."""

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        model = _unwrap(runner.model)
        state = dict(model={
            k: v.detach().clone()
            for k, v in model.state_dict().items()
        })
        for hook in runner.hooks:
            if isinstance(hook, EMAHook):
                state['ema'] = {
                    k: v.detach().clone()
                    for k, v in hook.ema_model.module.state_dict().items()
                }
        torch.save(state,
                   osp.join(runner.work_dir, f'rank{get_rank()}_state.pth'))


def _resize_size(model):
    """The size ``BatchSyncRandomResize`` will use next (None if absent)."""
    for module in model.data_preprocessor.modules():
        if type(module).__name__ == 'BatchSyncRandomResize':
            size = module._input_size
            return list(size) if size is not None else None
    return None


@HOOKS.register_module()
class ProbeEpochStateHook(Hook):
    """Record the training state after every iteration and epoch."""

    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        _append_json(
            osp.join(runner.work_dir, f'rank{get_rank()}_iters.jsonl'),
            dict(
                iter=runner.iter,  # 0-based index of the iteration just run
                losses={k: float(v.detach())
                        for k, v in (outputs or {}).items()},
                batch_shape=list(data_batch['inputs'][0].shape),
                next_input_size=_resize_size(_unwrap(runner.model))))

    def after_train_epoch(self, runner) -> None:
        model = _unwrap(runner.model)
        _append_json(
            osp.join(runner.work_dir, f'rank{get_rank()}_epochs.jsonl'),
            dict(
                epoch=runner.epoch,  # 0-based index of the epoch just run
                iter=runner.iter,
                lr=sorted({g['lr']
                           for g in runner.optim_wrapper.param_groups}),
                use_l1=bool(model.bbox_head.use_l1),
                skip_type_keys=list(
                    runner.train_dataloader.dataset.skip_type_keys),
                next_input_size=_resize_size(model)))


@HOOKS.register_module()
class ProbeLossNormHook(Hook):
    """Record the loss normaliser of the YOLOX head at every call (the
    head's ``reduce_mean`` is restored after training)."""

    def before_train(self, runner) -> None:
        from yolox_mm.models.dense_heads import yolox_head

        original = yolox_head.reduce_mean
        path = osp.join(runner.work_dir, f'rank{get_rank()}_norm.jsonl')

        def recording_reduce_mean(tensor):
            local = float(tensor)
            reduced = original(tensor)
            _append_json(
                path,
                dict(iter=runner.iter, local=local, reduced=float(reduced)))
            return reduced

        self._restore = (yolox_head, original)
        yolox_head.reduce_mean = recording_reduce_mean

    def after_train(self, runner) -> None:
        module, original = self._restore
        module.reduce_mean = original


REPO = Path(__file__).resolve().parents[1]
TREE_CONFIG = REPO / 'configs' / 'yolox_nano_1xb4-200e_deepforest.py'

_TINY_CONFIG = """\
_base_ = {base!r}
from yolox_mm.utils.config_deltas import (  # noqa: E402
    drop_type, set_fields, with_canvas)

custom_imports = dict(
    imports=['yolox_mm', 'tests.tiny_training'{extra_imports}],
    allow_failed_imports=False)

data_root = {data_root!r}
img_scale = (128, 128)  # width, height
max_epochs = {max_epochs}
num_last_epochs = {num_last_epochs}
base_lr = 0.01

# a new size every iteration: the most sensitive case for resume and DDP
model = dict(data_preprocessor=dict(batch_augments=set_fields(
    _base_.model.data_preprocessor.batch_augments, 'BatchSyncRandomResize',
    random_size_range=(96, 160), interval=1)))
train_pipeline = set_fields(
    _base_.train_pipeline, 'RandomAffine', scaling_ratio_range=(0.5, 1.5))
train_pipeline = with_canvas(train_pipeline, img_scale)
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        dataset=dict(data_root=data_root, indices={num_images}),
        pipeline=train_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = {param_scheduler}
# NCHW unless a test asks for the tree config's ChannelsLastHook
custom_hooks = set_fields(
    drop_type(_base_.custom_hooks, 'ChannelsLastHook'), 'YOLOXModeSwitchHook',
    num_last_epochs=num_last_epochs) + [
    dict(type='ProbeEpochStateHook'),
    dict(type='ProbeRankStateHook'),
    dict(type='ProbeLossNormHook'),{extra_hooks}
]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=-1, save_last=True))
randomness = dict(seed={seed}, deterministic=True)
"""


def _param_scheduler(max_epochs: int, num_last_epochs: int) -> str:
    """The YOLOX schedule in small: 1 warm-up epoch, cosine up to the last
    ``num_last_epochs`` (if any epoch is left), constant in those."""
    switch = max_epochs - num_last_epochs
    phases = [
        "dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=1, "
        'convert_to_iter_based=True)'
    ]
    if switch > 1:
        phases.append(
            "dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, "
            f'begin=1, T_max={switch - 1}, end={switch}, by_epoch=True, '
            'convert_to_iter_based=True)')
    if num_last_epochs:
        phases.append(
            "dict(type='ConstantLR', by_epoch=True, factor=1, "
            f'begin={switch}, end={max_epochs})')
    return '[\n    ' + ',\n    '.join(phases) + '\n]'


def write_tiny_config(path, max_epochs: int = 2, num_last_epochs: int = 1,
                      num_images: int = 4, seed: int = 0,
                      extra_hooks: Sequence[str] = (),
                      extra_imports: Sequence[str] = ()) -> str:
    """Write the tiny tree-training config to ``path``; return its path.

    ``max_epochs`` epochs of ``ceil(num_images / (2 * world_size))``
    iterations (batch 2 per process); Mosaic/RandomAffine off and L1 on in
    the last ``num_last_epochs``, which must leave the warm-up epoch.
    ``extra_hooks`` (config text of hook dicts) are appended to the custom
    hooks, ``extra_imports`` (module names) to ``custom_imports``.
    """
    if not 0 <= num_last_epochs < max_epochs:
        raise ValueError('need 0 <= num_last_epochs < max_epochs, got '
                         f'{num_last_epochs} and {max_epochs}')
    Path(path).write_text(
        _TINY_CONFIG.format(
            base=str(TREE_CONFIG),
            data_root=str(REPO / 'data' / 'deepforest') + '/',
            max_epochs=max_epochs,
            num_last_epochs=num_last_epochs,
            num_images=num_images,
            param_scheduler=_param_scheduler(max_epochs, num_last_epochs),
            seed=seed,
            extra_hooks=''.join(f'\n    {hook},' for hook in extra_hooks),
            extra_imports=''.join(f', {name!r}' for name in extra_imports)))
    return str(path)
