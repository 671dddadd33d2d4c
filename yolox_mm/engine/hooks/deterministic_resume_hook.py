"""Make a resumed training run repeat the uninterrupted one exactly."""
import logging
import random
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import EMAHook, Hook
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


def _buffer_modules(runner) -> Dict[str, torch.nn.Module]:
    """``model`` (unwrapped from DDP) and, with an ``EMAHook``, ``ema``
    (its averaged model)."""
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    modules = dict(model=model)
    for hook in runner.hooks:
        if isinstance(hook, EMAHook) and hasattr(hook, 'ema_model'):
            modules['ema'] = hook.ema_model.module
    return modules


def _rank_buffers(runner) -> Dict[str, Dict[str, torch.Tensor]]:
    """CPU copies of this rank's buffers (:func:`_buffer_modules`)."""
    return {
        part: {name: buf.detach().cpu().clone()
               for name, buf in module.named_buffers()}
        for part, module in _buffer_modules(runner).items()
    }


def _restore_rank_buffers(runner, buffers: dict) -> None:
    """Copy ``buffers`` (from :func:`_rank_buffers`) into this rank's
    model and EMA model, in place.

    Raises:
        ValueError: if the buffer names differ from the checkpoint's.
    """
    modules = _buffer_modules(runner)
    for part, saved in buffers.items():
        own = dict(modules[part].named_buffers())
        if own.keys() != saved.keys():
            raise ValueError(
                f'The checkpoint has other {part} buffers than the model '
                f'(e.g. {sorted(own.keys() ^ saved.keys())[:3]}); resume '
                'with the config the checkpoint was trained with.')
        with torch.no_grad():
            for name, value in saved.items():
                own[name].copy_(value)


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

    3. **The random state of the DataLoader workers.** With
       ``num_workers > 0`` the pipeline draws in the workers, which mmengine
       seeds only when they start: once per run with
       ``persistent_workers=True`` (the configs), so their streams ran on
       across epochs and a resumed run (new workers) drew other
       augmentations. This hook calls the train dataset's
       ``set_worker_epoch_seed(seed, epoch, rank)`` every epoch
       (:class:`~yolox_mm.datasets.YOLOXMixImageDataset`), and every worker
       reseeds at its first sample of the epoch
       (:class:`~yolox_mm.datasets.worker_seed.EpochWorkerSeed`). For
       another dataset with persistent workers it logs a warning once.
    4. **The BN buffers of the other ranks.** DDP runs with
       ``broadcast_buffers=False`` (as mmdet), so each rank keeps its own
       BN running statistics (and its EMA of them), but a checkpoint holds
       rank 0's only and a resume gave them to every rank. With more than
       one process this hook gathers every rank's model and EMA buffers at
       the end of every train epoch (``all_gather_object``, a few hundred
       small tensors), stores them in the checkpoint (``rank_buffers``) and
       gives each rank its own back when resuming with the same number of
       processes (in ``before_train``, after all weights are loaded). They
       matter as soon as ``SyncNormHook`` averages the ranks' statistics
       before a validation.

    With these, training resumed from the checkpoint of epoch ``k`` is
    bitwise the same as the uninterrupted run from epoch ``k`` on, on every
    rank (``tests/test_engine/test_resume.py``: CPU, one thread, ``k``
    before, at and after the mode switch, EMA, 0, 1 and 2 persistent
    workers, RAM cache on and off; ``tests/test_tools/test_dist_resume.py``:
    2 gloo processes; ``tests/test_tools/test_crash_resume.py``: SIGKILL).
    Checkpoints saved in the middle of an epoch (``by_epoch=False``) get no
    ``rank_buffers``.

    Reseeding with the same seed on every rank keeps mmengine's default
    (``diff_rank_seed=False``: ranks share the seed); with
    ``randomness.diff_rank_seed=True`` ``runner.seed`` already differs per
    rank.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._warned_workers = False
        # (iteration, every rank's buffers) gathered after the last epoch
        self._gathered: Optional[Tuple[int, list]] = None
        self._pending_buffers: Optional[dict] = None  # to restore on resume

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

    def after_train_epoch(self, runner) -> None:
        """With several processes, gather every rank's buffers (all ranks
        take part; before ``CheckpointHook`` saves, by priority)."""
        if get_world_size() > 1:
            self._gathered = (runner.iter,
                              all_gather_object(_rank_buffers(runner)))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the next sizes of the ``BatchSyncRandomResize`` modules and
        the buffers of every rank gathered at this iteration."""
        sizes: List[Optional[Tuple[int, int]]] = []
        for module in _batch_sync_resizes(runner.model):
            size = module._input_size
            sizes.append(None if size is None else tuple(
                int(s) for s in size))
        state = dict(batch_sync_resize_sizes=sizes)
        if self._gathered is not None and self._gathered[0] == runner.iter:
            state['rank_buffers'] = self._gathered[1]
        checkpoint[CHECKPOINT_KEY] = state

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
        self._take_rank_buffers(runner, state.get('rank_buffers'))

    def _take_rank_buffers(self, runner, rank_buffers) -> None:
        world_size = get_world_size()
        if rank_buffers is None or world_size == 1:
            return
        if len(rank_buffers) != world_size:
            print_log(
                f'DeterministicResumeHook: the checkpoint holds the buffers '
                f'of {len(rank_buffers)} processes, this run has '
                f'{world_size}; every rank starts from rank 0\'s BN '
                'statistics (the run will not repeat the uninterrupted one '
                'exactly).',
                logger=runner.logger,
                level=logging.WARNING)
            return
        self._pending_buffers = rank_buffers[get_rank()]

    def before_train(self, runner) -> None:
        """Give this rank its own buffers back (resume, several processes;
        after the Runner and EMAHook have loaded rank 0's)."""
        if self._pending_buffers is not None:
            _restore_rank_buffers(runner, self._pending_buffers)
            self._pending_buffers = None
