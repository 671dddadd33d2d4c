"""tools/dist_train.sh: 2 processes, gloo on CPU, our YOLOX-Nano on trees.

One run (``tests/tiny_training.py``: 8 images, batch 2 per process, 128 px,
2 epochs of 2 iterations, the mode switch before the 2nd, EMA) through
``tools/dist_train.sh CONFIG 2 --cfg-options ...`` (torchrun), and the
argument forwarding of all four launch scripts (with stand-ins for torchrun
and srun).
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.tiny_training import REPO, write_tiny_config

TOOLS = REPO / 'tools'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def _env(**extra) -> dict:
    env = dict(os.environ)
    # torchrun and python of this interpreter's environment first
    env['PATH'] = f'{Path(sys.executable).parent}{os.pathsep}{env["PATH"]}'
    env.update(extra)
    return env


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory):
    """Train with 2 gloo processes; return the work dir."""
    root = tmp_path_factory.mktemp('dist_train')
    config = write_tiny_config(
        root / 'tiny.py', max_epochs=2, num_last_epochs=1, num_images=8)
    work_dir = root / 'work'
    cmd = [
        'bash',
        str(TOOLS / 'dist_train.sh'), config, '2', '--work-dir',
        str(work_dir), '--cfg-options', 'default_hooks.checkpoint.interval=2',
        'log_level=WARNING'
    ]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=_env(PORT=str(_free_port()), OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=600)
    if proc.returncode != 0:
        pytest.fail(f'dist_train.sh exited with {proc.returncode}\n'
                    f'stdout:\n{proc.stdout[-3000:]}\n'
                    f'stderr:\n{proc.stderr[-5000:]}')
    return work_dir


@pytest.mark.slow
def test_both_ranks_train_the_same_schedule(dist_run):
    epochs = [_read_jsonl(dist_run / f'rank{r}_epochs.jsonl') for r in (0, 1)]
    assert epochs[0] == epochs[1]
    assert [e['use_l1'] for e in epochs[0]] == [False, True]
    iters = [_read_jsonl(dist_run / f'rank{r}_iters.jsonl') for r in (0, 1)]
    # 8 images / (2 processes x 2) = 2 iterations an epoch
    assert [i['iter'] for i in iters[0]] == [0, 1, 2, 3]
    assert [i['iter'] for i in iters[1]] == [0, 1, 2, 3]
    # BatchSyncRandomResize: rank 0 draws the size, every rank uses it
    assert [i['next_input_size'] for i in iters[0]] == \
        [i['next_input_size'] for i in iters[1]]
    # ... and the ranks saw different images (different losses)
    assert [i['losses'] for i in iters[0]] != [i['losses'] for i in iters[1]]


@pytest.mark.slow
def test_ranks_end_with_identical_weights(dist_run):
    states = [torch.load(dist_run / f'rank{r}_state.pth') for r in (0, 1)]
    for part in ('model', 'ema'):
        params = [
            key for key in states[0][part]
            if not key.endswith(('running_mean', 'running_var',
                                 'num_batches_tracked'))
        ]
        assert len(params) > 100
        differ = [
            key for key in params
            if not torch.equal(states[0][part][key], states[1][part][key])
        ]
        assert not differ, f'{part}: {differ[:5]}'
    # BN statistics are rank-local (broadcast_buffers=False, as in mmdet;
    # SyncNormHook averages them before validation)
    assert any(not torch.equal(states[0]['model'][k], states[1]['model'][k])
               for k in states[0]['model'] if k.endswith('running_mean'))

    # the checkpoint rank 0 saved holds these weights (EMAHook swaps the
    # EMA weights into ``state_dict`` and the raw ones into ema_state_dict)
    ckpt = torch.load(dist_run / 'epoch_2.pth', weights_only=True)
    for key, value in states[0]['ema'].items():
        assert torch.equal(ckpt['state_dict'][key], value), key
    for key, value in states[0]['model'].items():
        assert torch.equal(ckpt['ema_state_dict'][f'module.{key}'], value), key


@pytest.mark.slow
def test_loss_normaliser_is_the_mean_of_the_ranks_positives(dist_run):
    norms = [_read_jsonl(dist_run / f'rank{r}_norm.jsonl') for r in (0, 1)]
    assert len(norms[0]) == len(norms[1]) == 4  # one call an iteration
    for rank0, rank1 in zip(*norms):
        assert rank0['iter'] == rank1['iter']
        mean = (rank0['local'] + rank1['local']) / 2
        assert rank0['reduced'] == rank1['reduced'] == mean
    # informative: the ranks' numbers of positives differ somewhere
    assert any(r0['local'] != r1['local'] for r0, r1 in zip(*norms))


@pytest.mark.slow
def test_dist_test_evaluates_the_checkpoint(dist_run):
    """tools/dist_test.sh, 2 gloo processes, 4 val tiles (the predictions
    of both ranks are gathered for CocoMetric)."""
    cmd = [
        'bash',
        str(TOOLS / 'dist_test.sh'),
        str(dist_run / 'tiny.py'),
        str(dist_run / 'epoch_2.pth'), '2', '--work-dir',
        str(dist_run / 'test'), '--cfg-options',
        'test_dataloader.dataset.indices=4', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        # 4 iterations of training score below the default 0.001
        'model.test_cfg.score_thr=0', 'log_level=WARNING'
    ]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=_env(PORT=str(_free_port()), OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    # printed by rank 0 only
    assert proc.stdout.count('bbox mAP = ') == 1, proc.stdout[-3000:]


def _fake_launcher(tmp_path, name):
    """An executable ``name`` that writes its arguments and environment."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    out = tmp_path / f'{name}.json'
    script = bin_dir / name
    script.write_text(
        f'#!{sys.executable}\n'
        'import json, os, sys\n'
        f'json.dump(dict(argv=sys.argv[1:], env=dict(os.environ)), '
        f'open({str(out)!r}, "w"))\n')
    script.chmod(0o755)
    return bin_dir, out


def test_dist_scripts_forward_arguments_to_torchrun(tmp_path):
    bin_dir, out = _fake_launcher(tmp_path, 'torchrun')
    env = _env(NNODES='2', NODE_RANK='1', MASTER_ADDR='10.0.0.1', PORT='1234')
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    env.pop('PYTHONPATH', None)
    subprocess.run([
        'bash',
        str(TOOLS / 'dist_train.sh'), 'cfg.py', '4', '--cfg-options',
        'a=1 2'
    ], env=env, check=True)
    call = json.loads(out.read_text())
    assert call['argv'] == [
        '--nnodes=2', '--node_rank=1', '--master_addr=10.0.0.1',
        '--master_port=1234', '--nproc_per_node=4', f'{TOOLS}/train.py',
        'cfg.py', '--launcher', 'pytorch', '--cfg-options', 'a=1 2'
    ]
    assert call['env']['PYTHONPATH'] == f'{TOOLS}/..'

    subprocess.run(
        ['bash', str(TOOLS / 'dist_test.sh'), 'cfg.py', 'w.pth', '2'],
        env=env,
        check=True)
    call = json.loads(out.read_text())
    assert call['argv'][-5:] == [
        f'{TOOLS}/test.py', 'cfg.py', 'w.pth', '--launcher', 'pytorch'
    ]
    assert '--nproc_per_node=2' in call['argv']


@pytest.mark.parametrize('gres', [None, ''], ids=['gpu', 'cpu'])
def test_slurm_scripts_forward_arguments_to_srun(tmp_path, gres):
    bin_dir, out = _fake_launcher(tmp_path, 'srun')
    env = _env(GPUS='16', GPUS_PER_NODE='8', SRUN_ARGS='--qos=low --time=1')
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    if gres is not None:
        env['GRES'] = gres
    subprocess.run([
        'bash',
        str(TOOLS / 'slurm_train.sh'), 'part', 'job', 'cfg.py', 'wd',
        '--resume'
    ],
                   env=env,
                   check=True,
                   capture_output=True)
    argv = json.loads(out.read_text())['argv']
    gres_args = ['--gres=gpu:8'] if gres is None else []
    assert argv == [
        '-p', 'part', '--job-name=job', *gres_args, '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        '--qos=low', '--time=1', 'python', '-u', f'{TOOLS}/train.py',
        'cfg.py', '--work-dir=wd', '--launcher=slurm', '--resume'
    ]

    subprocess.run([
        'bash',
        str(TOOLS / 'slurm_test.sh'), 'part', 'job', 'cfg.py', 'w.pth',
        '--out', 'r.pkl'
    ],
                   env=env,
                   check=True,
                   capture_output=True)
    argv = json.loads(out.read_text())['argv']
    assert argv[-7:] == [
        '-u', f'{TOOLS}/test.py', 'cfg.py', 'w.pth', '--launcher=slurm',
        '--out', 'r.pkl'
    ]
    assert ('--gres=gpu:8' in argv) == (gres is None)
