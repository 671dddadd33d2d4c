"""AtomicCheckpointHook: a crash while a checkpoint is written leaves the
last complete checkpoint usable; mmengine's CheckpointHook does not.

A toy model trains 3 epochs of 2 iterations with a checkpoint every epoch
and ``max_keep_ckpts=1`` (as the tree config). The "crash" is a
``BaseException`` raised by the local file backend after writing half of
``epoch_3.pth``'s bytes: what a ``kill -9`` during the write leaves on
disk. The end-to-end SIGKILL test is ``tests/test_tools/
test_crash_resume.py``.
"""
import os
import os.path as osp
import uuid

import pytest
import torch
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import yolox_mm  # noqa: F401  (registers the hooks)
from yolox_mm.engine.hooks import AtomicCheckpointHook
from yolox_mm.registry import HOOKS
from yolox_mm.utils.checkpoint import load_local_checkpoint
from yolox_mm.utils.checkpoint_integrity import DamagedCheckpointError


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1)
        nn.init.constant_(self.fc.weight, 0.1)  # the same in every run
        nn.init.zeros_(self.fc.bias)

    def forward(self, inputs, target, mode='tensor'):
        y = self.fc(torch.stack(inputs))[:, 0]
        if mode == 'loss':
            return dict(loss=((y - torch.stack(target))**2).mean())
        return y


class _Data(torch.utils.data.Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        return dict(inputs=torch.randn(3, generator=g),
                    target=torch.tensor(float(idx)))


class _RecordIters(Hook):
    """Appends every trained iteration (0-based) to ``self.iters``."""

    def __init__(self):
        self.iters = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.iters.append(runner.iter)


class SimulatedCrash(BaseException):
    """Not an Exception: nothing in the Runner may catch it."""


def _runner(work_dir, hook_type, resume=False, record=None):
    name = f'atomic_{uuid.uuid4().hex}'
    return Runner(
        model=_Toy(),
        work_dir=str(work_dir),
        experiment_name=name,
        default_scope='yolox_mm',
        train_dataloader=dict(
            dataset=_Data(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        default_hooks=dict(checkpoint=dict(
            type=hook_type, interval=1, max_keep_ckpts=1)),
        randomness=dict(seed=0),
        resume=resume,
        custom_hooks=[record] if record else None,
        visualizer=dict(type='Visualizer', name=name),
        log_level='WARNING')


@pytest.fixture
def crash_while_writing_epoch_3(monkeypatch):
    put = LocalBackend.put

    def half_put(self, obj, filepath):
        if 'epoch_3.pth' in osp.basename(str(filepath)):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise SimulatedCrash(filepath)
        put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', half_put)
    return lambda: monkeypatch.setattr(LocalBackend, 'put', put)


def _last_checkpoint(work_dir):
    with open(work_dir / 'last_checkpoint') as f:
        return f.read()


def _weights(path):
    return load_local_checkpoint(str(path))['state_dict']


def test_registered_and_in_the_default_hooks():
    from mmengine.config import Config
    assert HOOKS.get('AtomicCheckpointHook') is AtomicCheckpointHook
    cfg = Config.fromfile('configs/yolox_nano_1xb4-200e_deepforest.py')
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 1


def test_same_files_and_weights_as_mmengine_hook(tmp_path):
    _runner(tmp_path / 'ours', 'AtomicCheckpointHook').train()
    _runner(tmp_path / 'mmengine', CheckpointHook).train()
    ours, theirs = tmp_path / 'ours', tmp_path / 'mmengine'
    names = sorted(n for n in os.listdir(ours) if n.endswith('.pth'))
    assert names == ['epoch_3.pth'] == sorted(
        n for n in os.listdir(theirs) if n.endswith('.pth'))
    assert not [n for n in os.listdir(ours) if n.endswith('.tmp')]
    assert _last_checkpoint(ours) == str(ours / 'epoch_3.pth')
    checkpoint = load_local_checkpoint(str(ours / 'epoch_3.pth'))
    assert checkpoint['message_hub']['runtime_info']['keep_ckpt_ids'] == [3]
    assert checkpoint['message_hub']['runtime_info']['last_ckpt'] == str(
        ours / 'epoch_3.pth')
    a, b = _weights(ours / 'epoch_3.pth'), _weights(theirs / 'epoch_3.pth')
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_mmengine_hook_loses_every_checkpoint_in_a_crash(
        tmp_path, crash_while_writing_epoch_3):
    """Why the hook exists; and the errors name the files."""
    with pytest.raises(SimulatedCrash):
        _runner(tmp_path, CheckpointHook).train()
    # epoch_2.pth was deleted before epoch_3.pth was written
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth')) \
        == ['epoch_3.pth']
    last = _last_checkpoint(tmp_path)
    assert last == str(tmp_path / 'epoch_2.pth')
    with pytest.raises(FileNotFoundError,
                       match=f'{last} can not be found. No complete '
                       f'checkpoint is left in {tmp_path}'):
        load_local_checkpoint(last)
    damaged = str(tmp_path / 'epoch_3.pth')
    with pytest.raises(DamagedCheckpointError) as info:
        load_local_checkpoint(damaged)
    assert str(info.value).startswith(
        f'Cannot read the checkpoint {damaged}: its zip archive is '
        'incomplete')
    assert 'killed while writing it' in str(info.value)


def test_crash_while_saving_keeps_the_last_complete_checkpoint(
        tmp_path, crash_while_writing_epoch_3):
    with pytest.raises(SimulatedCrash):
        _runner(tmp_path / 'crashed', 'AtomicCheckpointHook').train()
    crashed = tmp_path / 'crashed'
    assert sorted(os.listdir(crashed)) == sorted(
        ['.epoch_3.pth.tmp', 'epoch_2.pth', 'last_checkpoint',
         *[n for n in os.listdir(crashed) if n[0].isdigit()]])  # log dir
    assert _last_checkpoint(crashed) == str(crashed / 'epoch_2.pth')
    assert load_local_checkpoint(str(crashed / 'epoch_2.pth'))['meta'][
        'epoch'] == 2
    # a damaged file next to it: the error names the complete one
    with pytest.raises(DamagedCheckpointError,
                       match='The newest complete checkpoint in .* is '
                       f'{crashed}/epoch_2.pth: resume with `--resume'):
        load_local_checkpoint(str(crashed / '.epoch_3.pth.tmp'))

    crash_while_writing_epoch_3()  # no more crashes
    record = _RecordIters()
    _runner(crashed, 'AtomicCheckpointHook', resume=True,  # --resume
            record=record).train()
    assert record.iters == [4, 5]  # epoch 3 only: resumed from epoch_2
    assert not (crashed / '.epoch_3.pth.tmp').exists()
    assert not (crashed / 'epoch_2.pth').exists()  # max_keep_ckpts=1
    _runner(tmp_path / 'full', 'AtomicCheckpointHook').train()
    a = _weights(crashed / 'epoch_3.pth')
    b = _weights(tmp_path / 'full' / 'epoch_3.pth')
    assert all(torch.equal(a[k], b[k]) for k in a)
