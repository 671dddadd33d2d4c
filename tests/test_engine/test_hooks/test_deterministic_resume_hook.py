"""Tests of DeterministicResumeHook: per-epoch reseeding, resize state."""
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmdet.models.data_preprocessors import (BatchSyncRandomResize,
                                             DetDataPreprocessor)
from torch import nn

from yolox_mm.engine.hooks import DeterministicResumeHook
from yolox_mm.engine.hooks.deterministic_resume_hook import CHECKPOINT_KEY
from yolox_mm.registry import HOOKS


def _draws():
    return (random.random(), float(np.random.rand()), float(torch.rand(1)))


def test_registered():
    assert HOOKS.get('DeterministicResumeHook') is DeterministicResumeHook


def test_each_epoch_starts_from_the_same_random_state():
    hook = DeterministicResumeHook()
    hook.before_train_epoch(SimpleNamespace(seed=5, epoch=3))
    first = _draws()
    _draws()  # whatever ran before in this process
    hook.before_train_epoch(SimpleNamespace(seed=5, epoch=3))
    assert _draws() == first
    hook.before_train_epoch(SimpleNamespace(seed=5, epoch=4))
    assert _draws() != first
    hook.before_train_epoch(SimpleNamespace(seed=6, epoch=3))
    assert _draws() != first


class _Detector(nn.Module):

    def __init__(self, num_resizes=1):
        super().__init__()
        self.data_preprocessor = DetDataPreprocessor(batch_augments=[
            dict(type='BatchSyncRandomResize', random_size_range=(320, 640))
            for _ in range(num_resizes)
        ])


def _resize(model):
    return model.data_preprocessor.batch_augments[0]


def test_resize_size_is_saved_and_restored_on_resume(tmp_path):
    hook = DeterministicResumeHook()
    trained = _Detector()
    assert isinstance(_resize(trained), BatchSyncRandomResize)
    _resize(trained)._input_size = (352, 416)
    checkpoint = {}
    hook.before_save_checkpoint(SimpleNamespace(model=trained), checkpoint)
    assert checkpoint[CHECKPOINT_KEY] == dict(
        batch_sync_resize_sizes=[(352, 416)])
    # plain tuples of ints: fine for torch.load(weights_only=True)
    torch.save(checkpoint, tmp_path / 'c.pth')
    checkpoint = torch.load(tmp_path / 'c.pth', weights_only=True)

    resumed = _Detector()
    hook.after_load_checkpoint(
        SimpleNamespace(model=resumed, _resume=True), checkpoint)
    assert _resize(resumed)._input_size == (352, 416)

    loaded = _Detector()  # load_from: a new training, sizes start fresh
    hook.after_load_checkpoint(
        SimpleNamespace(model=loaded, _resume=False), checkpoint)
    assert _resize(loaded)._input_size is None


def test_resume_without_state_or_resize_modules():
    hook = DeterministicResumeHook()
    model = _Detector()
    hook.after_load_checkpoint(SimpleNamespace(model=model, _resume=True), {})
    assert _resize(model)._input_size is None
    checkpoint = {}
    hook.before_save_checkpoint(SimpleNamespace(model=nn.Linear(1, 1)),
                                checkpoint)
    assert checkpoint[CHECKPOINT_KEY] == dict(batch_sync_resize_sizes=[])


def test_resume_with_another_number_of_resize_modules_fails():
    hook = DeterministicResumeHook()
    checkpoint = {CHECKPOINT_KEY: dict(batch_sync_resize_sizes=[None, None])}
    with pytest.raises(ValueError, match='2 BatchSyncRandomResize sizes but '
                       'the model has 1'):
        hook.after_load_checkpoint(
            SimpleNamespace(model=_Detector(), _resume=True), checkpoint)


class _SeedRecordingDataset:

    def __init__(self):
        self.calls = []

    def set_worker_epoch_seed(self, seed, epoch, rank):
        self.calls.append((seed, epoch, rank))


def test_workers_are_told_the_epoch_seed():
    dataset = _SeedRecordingDataset()
    runner = SimpleNamespace(
        seed=2**32 + 5, epoch=3, rank=1,
        train_dataloader=SimpleNamespace(dataset=dataset, num_workers=1,
                                         persistent_workers=True))
    DeterministicResumeHook().before_train_epoch(runner)
    assert dataset.calls == [(5, 3, 1)]  # the seed as a 32-bit value


def test_warns_once_for_persistent_workers_it_cannot_reseed(caplog):
    import logging
    logger = logging.getLogger('deterministic_resume_test')
    runner = SimpleNamespace(
        seed=0, epoch=0, rank=0, logger=logger,
        train_dataloader=SimpleNamespace(dataset=[1, 2], num_workers=2,
                                         persistent_workers=True))
    hook = DeterministicResumeHook()
    with caplog.at_level(logging.WARNING, logger=logger.name):
        hook.before_train_epoch(runner)
        runner.epoch = 1
        hook.before_train_epoch(runner)
    warnings = [r.getMessage() for r in caplog.records
                if 'set_worker_epoch_seed' in r.getMessage()]
    assert len(warnings) == 1
    assert 'train dataset list has no set_worker_epoch_seed' in warnings[0]
    # not persistent: workers restart (and are seeded) every epoch, no warning
    caplog.clear()
    runner.train_dataloader.persistent_workers = False
    with caplog.at_level(logging.WARNING, logger=logger.name):
        DeterministicResumeHook().before_train_epoch(runner)
    assert not caplog.records
