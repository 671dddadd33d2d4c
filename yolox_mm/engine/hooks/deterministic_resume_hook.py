"""Make a resumed training run repeat the uninterrupted one exactly."""
import logging
import random
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from yolox_mm.registry import HOOKS

# Key of this hook's entry in a checkpoint.
CHECKPOINT_KEY = 'yolox_mm_resume_state'


def _batch_sync_resizes(model) -> List[torch.nn.Module]:
    """The ``BatchSyncRandomResize`` modules of ``model``'s data
    preprocessor (mmdet's, or any module of that class name)."""
    if is_model_wrapper(model):
        model = model.module
    preprocessor = getattr(model, 'data_preprocessor', None)
    if preprocessor is None:
        return []
    return [
        m for m in preprocessor.modules()
        if type(m).__name__ == 'BatchSyncRandomResize'
    ]


@HOOKS.register_module()
class DeterministicResumeHook(Hook):
    """Keep the random state of training resumable.

    mmengine checkpoints hold the weights, optimizer, schedulers, EMA and
    the message hub, but not two things YOLOX training depends on, so a run
    resumed with ``--resume`` drew other augmentations and image sizes than
    the uninterrupted run (``tests/test_engine/test_resume.py``):

    1. **The global random generators** of ``random``, ``numpy`` and
       ``torch``. With ``num_workers=0`` the data pipeline (Mosaic,
       RandomAffine, HSV, flips ...) draws from them in the main process,
       and ``BatchSyncRandomResize`` always draws its sizes from ``random``
       on rank 0. This hook reseeds all three at the start of every train
       epoch with ``runner.seed + epoch``, so each epoch's draws depend only
       on the seed and the epoch, not on what ran before in this process.
       (The seed is the one in ``randomness``, or the one in the checkpoint
       when resuming, so ``randomness.seed`` need not be fixed.)
    2. **The size ``BatchSyncRandomResize`` uses next.** It is drawn at the
       end of every ``interval``-th iteration and kept in a plain
       attribute; a resumed run started with the loader's size instead.
       This hook writes it into the checkpoint (key
       ``'yolox_mm_resume_state'``, a list of ``(h, w)`` per such module)
       and restores it when resuming (not for ``load_from``).

    With both, training resumed from the checkpoint of epoch ``k`` is
    bitwise the same as the uninterrupted run from epoch ``k`` on
    (verified on CPU, with one thread, for ``k`` before, at and after the
    YOLOX mode switch, with EMA), as long as the DataLoader workers are not
    persistent: with ``num_workers > 0`` the pipeline draws in the workers,
    which mmengine seeds from the seed, rank and worker id when they start,
    i.e. every epoch unless ``persistent_workers=True``. Persistent workers
    start once per run, so after a resume their draws differ (the training
    is statistically the same, not bitwise).

    Reseeding with the same seed on every rank keeps mmengine's default
    (``diff_rank_seed=False``: ranks share the seed); with
    ``randomness.diff_rank_seed=True`` ``runner.seed`` already differs per
    rank.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._warned_workers = False

    def before_train_epoch(self, runner) -> None:
        """Reseed ``random``, ``numpy`` and ``torch`` from the epoch, here
        and (at their next sample) in the DataLoader workers."""
        seed = (runner.seed + runner.epoch) % 2**32
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        self._reseed_workers(runner)

    def _reseed_workers(self, runner) -> None:
        loader = getattr(runner, 'train_dataloader', None)
        dataset = getattr(loader, 'dataset', None)
        if hasattr(dataset, 'set_worker_epoch_seed'):
            dataset.set_worker_epoch_seed(runner.seed % 2**32, runner.epoch,
                                          runner.rank)
        elif (getattr(loader, 'num_workers', 0) > 0
              and getattr(loader, 'persistent_workers', False)
              and not self._warned_workers):
            self._warned_workers = True
            print_log(
                f'DeterministicResumeHook: the train dataset '
                f'{type(dataset).__name__} has no set_worker_epoch_seed, so '
                'its persistent DataLoader workers keep their random state '
                'across epochs and a resumed run will not repeat the '
                'uninterrupted one exactly. Wrap it in YOLOXMixImageDataset '
                'or set persistent_workers=False.',
                logger=runner.logger,
                level=logging.WARNING)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the next sizes of the ``BatchSyncRandomResize`` modules."""
        sizes: List[Optional[Tuple[int, int]]] = []
        for module in _batch_sync_resizes(runner.model):
            size = module._input_size
            sizes.append(None if size is None else tuple(
                int(s) for s in size))
        checkpoint[CHECKPOINT_KEY] = dict(batch_sync_resize_sizes=sizes)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the sizes when resuming (``load_from`` ignores them)."""
        state = checkpoint.get(CHECKPOINT_KEY)
        if not runner._resume or state is None:
            return
        sizes = state['batch_sync_resize_sizes']
        modules = _batch_sync_resizes(runner.model)
        if len(sizes) != len(modules):
            raise ValueError(
                f'The checkpoint has {len(sizes)} BatchSyncRandomResize '
                f'sizes but the model has {len(modules)} such modules; '
                'resume with the config the checkpoint was trained with.')
        for module, size in zip(modules, sizes):
            module._input_size = None if size is None else tuple(size)
