"""Tests of YOLOXModeSwitchHook: switch epoch, resume, L1, skip, loader."""
import itertools
import logging
import os
from types import SimpleNamespace

import pytest
from mmdet.datasets import MultiImageMixDataset
from mmengine.dataset import BaseDataset
from torch import nn
from torch.utils.data import DataLoader

from yolox_mm.datasets import YOLOXMixImageDataset
from yolox_mm.engine.hooks import YOLOXModeSwitchHook
from yolox_mm.registry import HOOKS

SKIP = ('Mosaic', 'RandomAffine', 'MixUp', 'FusedMosaicAffineMixUp')
_LOGGER_IDS = itertools.count()


class _Head(nn.Module):

    def __init__(self):
        super().__init__()
        self.use_l1 = False


class _Detector(nn.Module):

    def __init__(self):
        super().__init__()
        self.bbox_head = _Head()


class _LiveDataset:
    supports_live_skip = True

    def __init__(self):
        self.updates = []

    def update_skip_type_keys(self, keys):
        self.updates.append(tuple(keys))


class _ListHandler(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _runner(epoch, dataset=None, model=None, persistent_workers=True):
    logger = logging.getLogger(
        f'test_yolox_mode_switch_hook.{next(_LOGGER_IDS)}')
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = _ListHandler()
    logger.addHandler(handler)
    loader = SimpleNamespace(
        dataset=dataset if dataset is not None else _LiveDataset(),
        persistent_workers=persistent_workers,
        num_workers=2,
        _iterator='running workers')
    return SimpleNamespace(
        epoch=epoch,
        max_epochs=300,
        model=model if model is not None else _Detector(),
        train_dataloader=loader,
        logger=logger,
        log=handler.messages)


def test_switches_for_exactly_the_last_15_epochs():
    hook = YOLOXModeSwitchHook(num_last_epochs=15)
    runner = _runner(epoch=284)  # 0-based: the 285th of 300 epochs
    hook.before_train_epoch(runner)
    assert runner.model.bbox_head.use_l1 is False
    assert runner.train_dataloader.dataset.updates == []
    assert runner.log == []

    runner.epoch = 285  # 300 - 15: the first of the last 15 (286..300)
    hook.before_train_epoch(runner)
    assert runner.model.bbox_head.use_l1 is True
    assert runner.train_dataloader.dataset.updates == [SKIP]
    # A live-skip dataset keeps its workers.
    assert runner.train_dataloader._iterator == 'running workers'
    assert len(runner.log) == 1 and 'epoch 286/300' in runner.log[0]

    runner.epoch = 286  # idempotent: no second switch
    hook.before_train_epoch(runner)
    assert runner.train_dataloader.dataset.updates == [SKIP]
    assert len(runner.log) == 1


def test_resume_past_the_boundary_switches_at_first_epoch():
    hook = YOLOXModeSwitchHook(num_last_epochs=15)  # a fresh hook, as after
    runner = _runner(epoch=290)  # resuming from the epoch-290 checkpoint
    hook.before_train_epoch(runner)
    assert runner.model.bbox_head.use_l1 is True
    assert runner.train_dataloader.dataset.updates == [SKIP]


def test_is_switch_epoch_boundaries():
    hook = YOLOXModeSwitchHook(num_last_epochs=15)
    assert [e for e in range(300) if hook.is_switch_epoch(e, 300)] == list(
        range(285, 300))
    assert not any(
        YOLOXModeSwitchHook(num_last_epochs=0).is_switch_epoch(e, 300)
        for e in range(300))


def test_unwraps_model_wrapper():
    detector = _Detector()
    runner = _runner(epoch=299, model=nn.DataParallel(detector))
    YOLOXModeSwitchHook().before_train_epoch(runner)
    assert detector.bbox_head.use_l1 is True


class _SetL1Head(nn.Module):
    """A head with the documented switch: records its calls."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def set_l1(self, enabled):
        self.calls.append(enabled)


def test_calls_set_l1_of_a_yolox_mm_head():
    detector = _Detector()
    detector.bbox_head = _SetL1Head()
    runner = _runner(epoch=290, model=detector)
    YOLOXModeSwitchHook().before_train_epoch(runner)
    YOLOXModeSwitchHook().before_train_epoch(runner)  # resumed: a new hook
    assert detector.bbox_head.calls == [True, True]


def test_switches_the_l1_loss_of_a_real_head():
    from yolox_mm.models.dense_heads import YOLOXHead
    detector = _Detector()
    detector.bbox_head = YOLOXHead(num_classes=1, in_channels=4,
                                   feat_channels=4)
    YOLOXModeSwitchHook().before_train_epoch(_runner(epoch=299,
                                                     model=detector))
    assert detector.bbox_head.use_l1 is True


def test_non_live_dataset_with_persistent_workers_drops_iterator():
    dataset = SimpleNamespace(update_skip_type_keys=lambda keys: None)
    runner = _runner(epoch=299, dataset=dataset)
    YOLOXModeSwitchHook().before_train_epoch(runner)
    assert runner.train_dataloader._iterator is None

    runner = _runner(epoch=299, dataset=dataset, persistent_workers=False)
    YOLOXModeSwitchHook().before_train_epoch(runner)
    assert runner.train_dataloader._iterator == 'running workers'


def test_errors_and_registry():
    with pytest.raises(ValueError, match='num_last_epochs'):
        YOLOXModeSwitchHook(num_last_epochs=-1)
    with pytest.raises(TypeError, match='skip_type_keys'):
        YOLOXModeSwitchHook(skip_type_keys='Mosaic')
    runner = _runner(epoch=299, dataset=SimpleNamespace())
    with pytest.raises(TypeError, match='update_skip_type_keys'):
        YOLOXModeSwitchHook().before_train_epoch(runner)
    runner = _runner(epoch=299, model=nn.Linear(1, 1))
    with pytest.raises(TypeError, match='use_l1'):
        YOLOXModeSwitchHook().before_train_epoch(runner)
    hook = HOOKS.build(dict(type='YOLOXModeSwitchHook', num_last_epochs=5))
    assert isinstance(hook, YOLOXModeSwitchHook) and hook.priority == 48


# --- with a real DataLoader and persistent workers (fork) ------------------


class _Samples(BaseDataset):
    """4 samples ``dict(idx=i)``; empty loading pipeline."""

    def load_data_list(self):
        return [dict(idx=i) for i in range(4)]


class TagA:

    def __call__(self, results):
        results['applied'] = results.get('applied', []) + ['TagA']
        return results


class RecordPid:

    def __call__(self, results):
        results['pid'] = os.getpid()
        return results


def _collate(batch):
    return batch


def _epoch(hook, runner, epoch):
    runner.epoch = epoch
    hook.before_train_epoch(runner)  # before iter(), as in the train loop
    samples = [s for batch in runner.train_dataloader for s in batch]
    return [s.get('applied', []) for s in samples], {s['pid'] for s in samples}


def _real_runner(dataset):
    loader = DataLoader(
        dataset,
        batch_size=2,
        num_workers=1,
        persistent_workers=True,
        collate_fn=_collate,
        multiprocessing_context='fork')
    runner = _runner(epoch=0, model=_Detector())
    runner.max_epochs = 4
    runner.train_dataloader = loader
    return runner


def test_real_loader_live_dataset_keeps_workers():
    dataset = YOLOXMixImageDataset(_Samples(), [TagA(), RecordPid()])
    hook = YOLOXModeSwitchHook(num_last_epochs=2, skip_type_keys=('TagA', ))
    runner = _real_runner(dataset)
    applied, pids1 = _epoch(hook, runner, 1)
    assert applied == [['TagA']] * 4
    applied, pids2 = _epoch(hook, runner, 2)  # 2 >= 4 - 2: switch
    assert applied == [[]] * 4
    assert pids2 == pids1  # same worker process


def test_real_loader_mmdet_dataset_restarts_workers():
    dataset = MultiImageMixDataset(_Samples(), [])
    dataset.pipeline = [TagA(), RecordPid()]
    dataset.pipeline_types = ['TagA', 'RecordPid']
    hook = YOLOXModeSwitchHook(num_last_epochs=2, skip_type_keys=('TagA', ))
    runner = _real_runner(dataset)
    applied, pids1 = _epoch(hook, runner, 0)
    assert applied == [['TagA']] * 4

    # Why the hook must restart the workers for this dataset: updating the
    # keys alone does not reach the running worker.
    dataset.update_skip_type_keys(['TagA'])
    applied, _ = _epoch(hook, runner, 1)  # 1 < 4 - 2: no switch yet
    assert applied == [['TagA']] * 4  # stale

    applied, pids3 = _epoch(hook, runner, 2)  # switch: new workers
    assert applied == [[]] * 4
    assert pids3 != pids1
