"""Resume under 2-process gloo training (``tools/dist_train.sh``) repeats
the uninterrupted run bitwise on both ranks, BN statistics included.

The tiny tree training (``tests/tiny_training.py``): 8 images, batch 2 per
process, 3 epochs of 2 iterations, the mode switch before the last, EMA,
one persistent DataLoader worker per rank with the RAM cache (the tree
config's loader), a checkpoint every epoch. The resumed run starts from
``epoch_1.pth`` of the uninterrupted one with ``--resume``. Also with
``ChannelsLastHook`` (NHWC weights).
"""
import shutil
import subprocess

import pytest
import torch

from tests.test_tools.test_dist_train import TOOLS, _env, _free_port
from tests.tiny_training import REPO, write_tiny_config

pytestmark = pytest.mark.slow

OPTIONS = [
    'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=1',
    'train_dataloader.dataset.cache_images=1', 'log_level=WARNING'
]


def _dist_train(config, work_dir, *args):
    cmd = ['bash', str(TOOLS / 'dist_train.sh'), config, '2', '--work-dir',
           str(work_dir), *args, '--cfg-options', *OPTIONS]
    proc = subprocess.run(
        cmd, cwd=REPO, env=_env(PORT=str(_free_port()), OMP_NUM_THREADS='1'),
        capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f'dist_train.sh exited with {proc.returncode}\n'
                    f'stderr:\n{proc.stderr[-5000:]}')


@pytest.mark.parametrize('hooks', [(), ("dict(type='ChannelsLastHook')", )],
                         ids=['nchw', 'channels_last'])
def test_two_process_resume_matches_uninterrupted_on_every_rank(
        tmp_path, hooks):
    # with ChannelsLastHook the launcher wraps with
    # ChannelsLastDistributedDataParallel (NHWC before DDP's buckets);
    # converting after the wrap made every tensor differ here
    config = write_tiny_config(
        tmp_path / 'tiny.py', max_epochs=3, num_last_epochs=1, num_images=8,
        extra_hooks=hooks)
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    _dist_train(config, full)
    resumed.mkdir()
    shutil.copy(full / 'epoch_1.pth', resumed / 'epoch_1.pth')
    _dist_train(config, resumed, '--resume', str(resumed / 'epoch_1.pth'))

    states = {}
    for rank in (0, 1):
        a = torch.load(full / f'rank{rank}_state.pth')
        b = torch.load(resumed / f'rank{rank}_state.pth')
        for part in ('model', 'ema'):
            differ = [k for k in a[part] if not torch.equal(a[part][k],
                                                            b[part][k])]
            assert not differ, (f'rank {rank} {part}: {len(differ)} tensors '
                                f'differ, e.g. {differ[:3]}')
        states[rank] = a
    # the ranks' BN statistics do differ, so rank 1's had to be restored
    assert any(
        not torch.equal(states[0]['model'][k], states[1]['model'][k])
        for k in states[0]['model'] if k.endswith('running_mean'))
    # the checkpoint carries both ranks' buffers
    ckpt = torch.load(full / 'epoch_1.pth', weights_only=True)
    rank_buffers = ckpt['yolox_mm_resume_state']['rank_buffers']
    assert len(rank_buffers) == 2 and set(rank_buffers[1]) == {'model', 'ema'}
