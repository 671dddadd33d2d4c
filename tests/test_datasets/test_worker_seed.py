"""EpochWorkerSeed: DataLoader workers start every epoch from a random state
that depends only on (seed, epoch, rank, worker id), persistent or not.

The classes are module-level so that ``spawn`` workers can unpickle them.
"""
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, get_worker_info

from yolox_mm.datasets import YOLOXMixImageDataset
from yolox_mm.datasets.worker_seed import EpochWorkerSeed, worker_epoch_seeds


class IndexDataset:
    """``dict(idx=i)`` for ``num`` indices (the wrapper's inner dataset)."""

    def __init__(self, num=8):
        self.num = num

    def __len__(self):
        return self.num

    def __getitem__(self, idx):
        return dict(idx=idx)


class Draw:
    """A transform that records one draw of each generator and the worker."""

    def __call__(self, results):
        info = get_worker_info()
        results['worker'] = None if info is None else info.id
        results['draws'] = (random.random(), float(np.random.random()),
                            float(torch.rand(())))
        return results


def collate(batch):
    return batch


def _epochs(dataset, num_epochs, first_epoch=0, set_seed=True, **loader):
    """Samples of ``num_epochs`` epochs, with one loader (its workers
    persist across the epochs when ``persistent_workers=True``)."""
    loader = DataLoader(dataset, batch_size=2, collate_fn=collate, **loader)
    epochs = []
    for epoch in range(first_epoch, first_epoch + num_epochs):
        if set_seed:
            dataset.set_worker_epoch_seed(7, epoch, 0)
        epochs.append([s for batch in loader for s in batch])
    return epochs


def _dataset():
    return YOLOXMixImageDataset(IndexDataset(), [Draw()])


def test_worker_seeds_are_seed_sequence_words():
    words = np.random.SeedSequence([7, 2, 1, 3]).generate_state(3)
    assert worker_epoch_seeds(7, 2, 1, 3) == tuple(int(w) for w in words)
    # every argument changes the streams
    seeds = {worker_epoch_seeds(*args) for args in
             [(7, 2, 1, 3), (8, 2, 1, 3), (7, 3, 1, 3), (7, 2, 0, 3),
              (7, 2, 1, 0)]}
    assert len(seeds) == 5
    with pytest.raises(ValueError, match=r'>= 0.*\(7, -1, 0, 0\)'):
        worker_epoch_seeds(7, -1, 0, 0)
    with pytest.raises(ValueError, match='>= 0'):
        EpochWorkerSeed().set(-1, 0, 0)


def test_persistent_workers_draw_as_fresh_workers_every_epoch():
    # (spawn workers get the same shared state: see the skip-flag test in
    # test_mix_image_dataset.py; not repeated here, each spawn costs ~7 s)
    kwargs = dict(num_workers=2, multiprocessing_context='fork')
    persistent = _epochs(_dataset(), 3, persistent_workers=True, **kwargs)
    fresh = _epochs(_dataset(), 3, persistent_workers=False, **kwargs)
    assert persistent == fresh
    # a "resumed" loader, started at epoch 2, draws what epoch 2 drew
    resumed = _epochs(_dataset(), 1, first_epoch=2, persistent_workers=True,
                      **kwargs)
    assert resumed[0] == persistent[2]
    assert persistent[0] != persistent[1]  # new draws every epoch

    # by hand: the first sample of worker w in epoch e draws first from
    # generators seeded with worker_epoch_seeds(7, e, 0, w); batch 0 goes
    # to worker 0, batch 1 to worker 1
    for epoch, samples in enumerate(persistent):
        assert [samples[0]['worker'], samples[2]['worker']] == [0, 1]
        for first in (samples[0], samples[2]):
            py, np_seed, pt = worker_epoch_seeds(7, epoch, 0, first['worker'])
            generator = torch.Generator().manual_seed(pt)
            assert first['draws'] == (
                random.Random(py).random(),
                float(np.random.RandomState(np_seed).random()),
                float(torch.rand((), generator=generator)))


def test_without_epoch_seed_persistent_workers_carry_their_state():
    """What the hook fixes: mmengine-style seeding once per worker start,
    so a restarted loader (a resume) repeats epoch 0's draws."""
    kwargs = dict(num_workers=1, persistent_workers=True,
                  worker_init_fn=lambda worker_id: np.random.seed(worker_id))
    draws = [[s['draws'][1] for s in epoch] for epoch in _epochs(
        _dataset(), 2, set_seed=False, **kwargs)]
    restarted = [s['draws'][1] for s in _epochs(
        _dataset(), 1, set_seed=False, **kwargs)[0]]
    assert restarted == draws[0] != draws[1]


def test_main_process_is_not_reseeded():
    seed = EpochWorkerSeed()
    assert seed.value is None and not seed.reseed_worker()
    seed.set(7, 2, 1)
    assert seed.value == (7, 2, 1)
    np.random.seed(123)
    expected = np.random.RandomState(123).random()
    assert not seed.reseed_worker()  # num_workers=0: the hook reseeds
    assert np.random.random() == expected
