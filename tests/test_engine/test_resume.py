"""A resumed training run ends exactly where the uninterrupted run ends.

Tiny schedule on the tree tiles (``tests/tiny_training.py``): 4 epochs of 2
iterations (4 images, batch 2, 128 px), Mosaic/RandomAffine off and L1 on
in the last 2 epochs (0-based epochs 2 and 3), EMA on, a new
``BatchSyncRandomResize`` size every iteration, ``randomness=dict(seed=0,
deterministic=True)``, one torch thread. Three DataLoader settings
(``LOADERS``): no workers (RAM cache on, as the tree config), 1 persistent
worker (cache on: the tree config's own loader), 2 persistent workers
(cache off), and 2 persistent workers running the pipeline fused
(``fuse=True``, the COCO configs' setting: fused before the mode switch,
the three transforms after it).

The uninterrupted run saves ``epoch_{k}.pth`` after every epoch; a run
stopped after epoch k would have saved the same file, so each case resumes
a fresh Runner from it (``resume=True, load_from=epoch_k.pth``, what
``tools/train.py --resume epoch_k.pth`` does) and trains to the end:

* k = 1: resumed before the mode switch (switches in its 2nd epoch),
* k = 2: resumed exactly at the switch epoch (switches in its 1st epoch),
* k = 3: resumed after the switch (must switch again in its 1st epoch).

Compared with the uninterrupted run: every model and EMA tensor (bitwise),
the per-iteration losses and batch sizes, and per epoch the learning rates,
``use_l1``, the skipped transforms and the next resize size. (That
persistent workers draw as workers restarted every epoch is tested on the
dataset alone: ``tests/test_datasets/test_worker_seed.py``.)
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
# (num_workers, persistent_workers, cache_images, fuse)
LOADERS = {
    'workers0': (0, False, True, False),
    'workers1_persistent': (1, True, True, False),
    'workers2_persistent_nocache': (2, True, False, False),
    'workers2_persistent_fused': (2, True, False, True),
}


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


def _train(config, work_dir, name, loader, resume_from=None):
    cfg = Config.fromfile(config)
    num_workers, persistent, cache, fuse = loader
    cfg.train_dataloader.num_workers = num_workers
    cfg.train_dataloader.persistent_workers = persistent
    cfg.train_dataloader.dataset.cache_images = cache
    cfg.train_dataloader.dataset.fuse = fuse
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
def config(tmp_path_factory):
    return write_tiny_config(
        tmp_path_factory.mktemp('resume') / 'tiny.py', max_epochs=MAX_EPOCHS,
        num_last_epochs=NUM_LAST_EPOCHS, num_images=4)


@pytest.fixture(scope='module', params=list(LOADERS))
def uninterrupted(request, config, tmp_path_factory, single_thread):
    loader = LOADERS[request.param]
    full = _train(config, tmp_path_factory.mktemp(request.param),
                  f'resume_full_{request.param}', loader)
    return config, full, loader


def _state_differences(state_a, state_b):
    differences = {}
    for part in ('model', 'ema'):
        assert state_a[part].keys() == state_b[part].keys()
        differences[part] = [
            key for key, value in state_a[part].items()
            if not torch.equal(value, state_b[part][key])
        ]
    return differences


@pytest.mark.parametrize('k', [1, 2, 3], ids=['before', 'at', 'after'])
def test_resume_after_epoch_k_matches_uninterrupted(uninterrupted, k,
                                                    tmp_path):
    config, full, loader = uninterrupted
    ckpt = tmp_path / f'epoch_{k}.pth'
    shutil.copy(full / f'epoch_{k}.pth', ckpt)
    resumed = _train(config, tmp_path / 'resumed', f'resume_{k}', loader,
                     ckpt)

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
    differ = _state_differences(torch.load(full / 'rank0_state.pth'),
                                torch.load(resumed / 'rank0_state.pth'))
    assert differ == dict(model=[], ema=[]), {
        part: f'{len(keys)} tensors differ, e.g. {keys[:3]}'
        for part, keys in differ.items()}

