"""``tools/train.py`` killed with SIGKILL, then ``--resume``: the final
checkpoint equals the uninterrupted run's, bitwise.

The tiny tree training (``tests/tiny_training.py``) with the tree config's
own kind of DataLoader (1 persistent worker, RAM cache), 8 images, 3 epochs
of 4 iterations, the mode switch before the last, EMA, a checkpoint every
epoch and ``max_keep_ckpts=1`` (as the tree config). ``SigkillHook``
(``tests/crash_hooks.py``) kills the training process:

1. in the middle of epoch 2 (after iteration 5 of 0..11, no checkpoint
   being written);
2. while ``epoch_2.pth`` is being written (half of it on disk).

Then ``tools/train.py CONFIG --work-dir SAME --resume`` (the latest
checkpoint, from ``last_checkpoint``) trains to the end.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.crash_hooks import AT_ITER, WRITING
from tests.tiny_training import REPO, write_tiny_config

pytestmark = pytest.mark.slow

TRAIN = REPO / 'tools' / 'train.py'
LOADER_OPTIONS = [
    'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=1',
    'train_dataloader.dataset.cache_images=1',
    'default_hooks.checkpoint.max_keep_ckpts=1', 'log_level=WARNING'
]


def _train(config, work_dir, *args, kill_env=None):
    """Run tools/train.py; return its exit code (logs in the work dir's
    parent, so that the worker's inherited pipes cannot block us)."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop(AT_ITER, None)
    env.pop(WRITING, None)
    env.update(kill_env or {})
    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir.parent / f'{work_dir.name}_{len(os.listdir(work_dir))}.log'
    with open(log, 'w') as out:
        proc = subprocess.run(
            [sys.executable, str(TRAIN), config, '--work-dir',
             str(work_dir), *args, '--cfg-options', *LOADER_OPTIONS],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            timeout=600)
    return proc.returncode, log


def _assert_trained(returncode, log):
    assert returncode == 0, Path(log).read_text()[-4000:]


def _pth_files(work_dir):
    return sorted(p.name for p in work_dir.glob('*.pth'))


def _assert_same_final_state(work_dir, full):
    for name in ('epoch_3.pth', ):
        a = torch.load(work_dir / name, weights_only=True)
        b = torch.load(full / name, weights_only=True)
        for part in ('state_dict', 'ema_state_dict'):
            differ = [k for k in a[part] if not torch.equal(a[part][k],
                                                            b[part][k])]
            assert not differ, f'{part}: {len(differ)} differ: {differ[:3]}'
    a = torch.load(work_dir / 'rank0_state.pth')
    b = torch.load(full / 'rank0_state.pth')
    for part in ('model', 'ema'):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part])


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('crash_resume')
    config = write_tiny_config(
        root / 'tiny.py', max_epochs=3, num_last_epochs=1, num_images=8,
        extra_hooks=["dict(type='SigkillHook')"],
        extra_imports=['tests.crash_hooks'])
    full = root / 'full'
    _assert_trained(*_train(config, full))
    return config, root, full


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(runs):
    config, root, full = runs
    work_dir = root / 'killed_mid_epoch'
    code, log = _train(config, work_dir, kill_env={AT_ITER: '5'})
    assert code == -signal.SIGKILL, Path(log).read_text()[-4000:]
    assert _pth_files(work_dir) == ['epoch_1.pth']  # killed in epoch 2
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'epoch_1.pth')

    _assert_trained(*_train(config, work_dir, '--resume'))
    assert _pth_files(work_dir) == ['epoch_3.pth', 'rank0_state.pth']
    _assert_same_final_state(work_dir, full)


def test_sigkill_while_writing_a_checkpoint_then_resume(runs):
    config, root, full = runs
    work_dir = root / 'killed_writing'
    code, log = _train(config, work_dir, kill_env={WRITING: 'epoch_2.pth'})
    assert code == -signal.SIGKILL, Path(log).read_text()[-4000:]
    # the last complete checkpoint is kept and named; the half-written
    # file is a hidden temporary one
    assert _pth_files(work_dir) == ['epoch_1.pth']
    assert (work_dir / '.epoch_2.pth.tmp').is_file()
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'epoch_1.pth')

    _assert_trained(*_train(config, work_dir, '--resume'))
    assert not (work_dir / '.epoch_2.pth.tmp').exists()
    assert _pth_files(work_dir) == ['epoch_3.pth', 'rank0_state.pth']
    _assert_same_final_state(work_dir, full)
