"""A resumed training run ends exactly where the uninterrupted run ends.

Tiny schedule on the tree tiles (``tests/tiny_training.py``): 4 epochs of 2
iterations (4 images, batch 2, 128 px, no workers), Mosaic/RandomAffine off
and L1 on in the last 2 epochs (0-based epochs 2 and 3), EMA on, a new
``BatchSyncRandomResize`` size every iteration, ``randomness=dict(seed=0,
deterministic=True)``, one torch thread.

The uninterrupted run saves ``epoch_{k}.pth`` after every epoch; a run
stopped after epoch k would have saved the same file, so each case resumes
a fresh Runner from it (``resume=True, load_from=epoch_k.pth``, what
``tools/train.py --resume epoch_k.pth`` does) and trains to the end:

* k = 1: resumed before the mode switch (switches in its 2nd epoch),
* k = 2: resumed exactly at the switch epoch (switches in its 1st epoch),
* k = 3: resumed after the switch (must switch again in its 1st epoch).

Compared with the uninterrupted run: every model and EMA tensor (bitwise),
the per-iteration losses and batch sizes, and per epoch the learning rates,
``use_l1``, the skipped transforms and the next resize size.
"""
import json
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tests.tiny_training import write_tiny_config

pytestmark = pytest.mark.slow

MAX_EPOCHS = 4
NUM_LAST_EPOCHS = 2


@pytest.fixture(scope='module')
def single_thread():
    """One torch thread (bitwise-reproducible, and fast on a busy 2-core
    machine); restore the global torch settings the Runner changes."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def _train(config, work_dir, name, resume_from=None):
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    # distinct global MessageHub/Visualizer/logger instances per Runner
    cfg.experiment_name = name
    cfg.visualizer.name = name
    cfg.log_level = 'WARNING'
    if resume_from is not None:
        cfg.resume = True
        cfg.load_from = str(resume_from)
        # the final state is dumped by ProbeRankStateHook; skip the
        # checkpoints (each costs ~2 s, mostly formatting the config)
        cfg.default_hooks.checkpoint.interval = MAX_EPOCHS + 1
        cfg.default_hooks.checkpoint.save_last = False
    Runner.from_cfg(cfg).train()
    return work_dir


def _read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, single_thread):
    root = tmp_path_factory.mktemp('resume')
    config = write_tiny_config(
        root / 'tiny.py', max_epochs=MAX_EPOCHS,
        num_last_epochs=NUM_LAST_EPOCHS, num_images=4)
    return config, _train(config, root / 'full', 'resume_full')


@pytest.mark.parametrize('k', [1, 2, 3], ids=['before', 'at', 'after'])
def test_resume_after_epoch_k_matches_uninterrupted(uninterrupted, k,
                                                    tmp_path):
    config, full = uninterrupted
    ckpt = tmp_path / f'epoch_{k}.pth'
    shutil.copy(full / f'epoch_{k}.pth', ckpt)
    resumed = _train(config, tmp_path / 'resumed', f'resume_{k}', ckpt)

    # the training state, epoch by epoch, from epoch k on
    full_epochs = _read_jsonl(full / 'rank0_epochs.jsonl')
    resumed_epochs = _read_jsonl(resumed / 'rank0_epochs.jsonl')
    assert [e['epoch'] for e in resumed_epochs] == list(range(k, MAX_EPOCHS))
    assert resumed_epochs == full_epochs[k:]
    switched = [e['epoch'] for e in full_epochs if e['use_l1']]
    assert switched == list(range(MAX_EPOCHS - NUM_LAST_EPOCHS, MAX_EPOCHS))
    assert all(e['skip_type_keys'] == ['Mosaic', 'RandomAffine']
               for e in full_epochs if e['use_l1'])

    # the same batches and losses, iteration by iteration
    full_iters = _read_jsonl(full / 'rank0_iters.jsonl')
    resumed_iters = _read_jsonl(resumed / 'rank0_iters.jsonl')
    assert resumed_iters == full_iters[-len(resumed_iters):]
    assert resumed_iters[0]['iter'] == 2 * k

    # bitwise the same weights and EMA weights
    full_state = torch.load(full / 'rank0_state.pth')
    resumed_state = torch.load(resumed / 'rank0_state.pth')
    for part in ('model', 'ema'):
        assert full_state[part].keys() == resumed_state[part].keys()
        differ = [
            key for key, value in full_state[part].items()
            if not torch.equal(value, resumed_state[part][key])
        ]
        assert not differ, f'{part}: {len(differ)} tensors differ, ' \
            f'e.g. {differ[:3]}'
