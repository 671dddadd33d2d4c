"""Reseed DataLoader workers at every epoch, persistent workers included."""
import random
from typing import Optional, Tuple

import numpy as np
import torch
from torch.utils.data import get_worker_info

# Slots of the shared state tensor.
_IS_SET, _SEED, _EPOCH, _RANK = range(4)


def worker_epoch_seeds(seed: int, epoch: int, rank: int,
                       worker_id: int) -> Tuple[int, int, int]:
    """The seeds of ``random``, ``numpy`` and ``torch`` for one worker and
    epoch: three 32-bit words of ``numpy.random.SeedSequence([seed, epoch,
    rank, worker_id])`` (distinct streams for every combination).

    Raises:
        ValueError: if an argument is negative (``SeedSequence`` needs
            non-negative integers).
    """
    values = (seed, epoch, rank, worker_id)
    if any(int(v) < 0 for v in values):
        raise ValueError('seed, epoch, rank and worker_id must be >= 0, but '
                         f'received {values}')
    words = np.random.SeedSequence([int(v) for v in values]).generate_state(3)
    return int(words[0]), int(words[1]), int(words[2])


class EpochWorkerSeed:
    """An epoch seed that the main process sets and DataLoader workers read.

    Why: mmengine seeds a DataLoader worker once, when it starts
    (``mmengine.dataset.worker_init_fn``: ``seed + num_workers * rank +
    worker_id``). Workers with ``persistent_workers=True`` start once per
    run and continue their ``random``/``numpy``/``torch`` streams from
    epoch to epoch, so the augmentations of epoch ``k + 1`` depend on every
    draw since the start of the run. A run resumed from the checkpoint of
    epoch ``k`` starts new workers, seeded as at epoch 0, and draws other
    augmentations than the uninterrupted run (measured with the tree config:
    different weights from the first resumed iteration).

    How: :meth:`set` (main process, ``DeterministicResumeHook.
    before_train_epoch``) writes ``(seed, epoch, rank)`` into a small
    ``int64`` tensor in shared memory, which workers inherit (``fork``) or
    receive as a handle to the same memory (``spawn``/``forkserver``). The
    dataset calls :meth:`reseed_worker` at the start of every sample; in a
    worker, the first sample after the value changed reseeds ``random``,
    ``numpy`` and ``torch`` with :func:`worker_epoch_seeds` (the worker id
    from ``torch.utils.data.get_worker_info``). So every worker starts every
    epoch from a state that depends only on the seed, the epoch, the rank
    and its id: persistent or not, resumed or not. torch hands a worker
    whole batches in a fixed round-robin order (``in_order=True``, the
    default), so each worker also gets the same samples in the same order.

    Nothing happens in the main process (``num_workers=0``: the hook reseeds
    the main process itself) or before the first :meth:`set` (the workers
    keep mmengine's seeding). The check costs one read of 4 shared integers
    per sample.
    """

    def __init__(self) -> None:
        self._state = torch.zeros(4, dtype=torch.int64).share_memory_()
        # per process: the (seed, epoch, rank) this process last reseeded for
        self._applied: Optional[Tuple[int, int, int]] = None

    def set(self, seed: int, epoch: int, rank: int) -> None:
        """Make every worker reseed for ``(seed, epoch, rank)`` at its next
        sample (main process, before the epoch's iterator is created).

        Raises:
            ValueError: if an argument is negative.
        """
        if min(seed, epoch, rank) < 0:
            raise ValueError('seed, epoch and rank must be >= 0, but '
                             f'received {(seed, epoch, rank)}')
        self._state.copy_(torch.tensor([1, seed, epoch, rank]))

    @property
    def value(self) -> Optional[Tuple[int, int, int]]:
        """The current ``(seed, epoch, rank)``, None before :meth:`set`."""
        state = self._state.tolist()
        if not state[_IS_SET]:
            return None
        return state[_SEED], state[_EPOCH], state[_RANK]

    def reseed_worker(self) -> bool:
        """In a DataLoader worker, reseed for the current value if this
        worker has not yet done so; return whether it reseeded."""
        info = get_worker_info()
        if info is None:
            return False
        value = self.value
        if value is None or value == self._applied:
            return False
        self._applied = value
        py_seed, np_seed, torch_seed = worker_epoch_seeds(*value, info.id)
        random.seed(py_seed)
        np.random.seed(np_seed)
        torch.manual_seed(torch_seed)
        return True
