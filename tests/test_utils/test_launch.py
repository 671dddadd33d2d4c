"""yolox_mm.utils.launch in-process: what each launch helper does to a
config and the environment, and what it raises (the CLIs themselves run in
``tests/test_tools``)."""
import argparse
import os
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from yolox_mm.utils import launch


def _cpu_only(monkeypatch, initialised=True):
    """No CUDA; launch's ``torch.distributed`` replaced by a stand-in whose
    process group is (or is not) initialised and which records
    ``init_process_group`` calls."""
    calls = []
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(launch, 'dist', SimpleNamespace(
        is_initialized=lambda: initialised,
        init_process_group=lambda **kwargs: calls.append(kwargs)))
    return calls


def test_prepare_launch_without_launcher_changes_nothing(monkeypatch):
    _cpu_only(monkeypatch)
    cfg = Config(dict(launcher='none', sync_bn='torch'))
    before = cfg.to_dict()
    launch.prepare_launch(cfg)
    assert cfg.to_dict() == before


@pytest.mark.parametrize('env_cfg', [
    None, dict(cudnn_benchmark=False),
    dict(dist_cfg=dict(backend='nccl', port=29512))
])
def test_prepare_launch_cpu_ddp_uses_gloo_and_no_device_ids(
        monkeypatch, env_cfg):
    _cpu_only(monkeypatch)
    cfg = Config(dict(launcher='pytorch', sync_bn='torch',
                      find_unused_parameters=True,
                      model_wrapper_cfg=dict(broadcast_buffers=True)))
    if env_cfg is not None:
        cfg.env_cfg = env_cfg
    launch.prepare_launch(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    # the rest of env_cfg is kept
    for key, value in (env_cfg or {}).items():
        if key != 'dist_cfg':
            assert cfg.env_cfg[key] == value
    if env_cfg and 'dist_cfg' in env_cfg:
        assert cfg.env_cfg.dist_cfg.port == 29512
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel', device_ids=None,
        broadcast_buffers=True,  # the config's own value is kept
        find_unused_parameters=True)
    assert cfg.sync_bn is None  # SyncBatchNorm needs GPUs


@pytest.mark.parametrize('launcher, hooks, wrapper, chosen', [
    ('pytorch', ['ChannelsLastHook'], None, True),
    ('slurm', ['yolox_mm.ChannelsLastHook'],
     dict(type='MMDistributedDataParallel', device_ids=None), True),
    ('none', ['ChannelsLastHook'], None, False),      # not distributed
    ('pytorch', ['EMAHook'], None, False),            # no ChannelsLastHook
    ('pytorch', ['ChannelsLastHook'],
     dict(type='MMFullyShardedDataParallel'), False),  # the user's choice
])
def test_channels_last_before_wrap(launcher, hooks, wrapper, chosen):
    cfg = Config(dict(launcher=launcher,
                      custom_hooks=[dict(type=h) for h in hooks]))
    if wrapper is not None:
        cfg.model_wrapper_cfg = wrapper
    before = cfg.to_dict()
    assert launch.channels_last_before_wrap(cfg) is chosen
    if not chosen:
        assert cfg.to_dict() == before
        return
    assert cfg.model_wrapper_cfg.type == launch.CHANNELS_LAST_DDP
    assert cfg.model_wrapper_cfg.broadcast_buffers is False
    assert cfg.model_wrapper_cfg.find_unused_parameters is False
    if wrapper is not None:
        assert cfg.model_wrapper_cfg.device_ids is None  # kept


# Run in a child process with a timeout: tearing down an in-process gloo
# group under a live DDP reducer can hang in ~ProcessGroupGloo (seen once
# in CI), so the child checks, prints 'ok' and leaves with os._exit.
_WRAP_CHECK = """
import os, sys, warnings
import torch, torch.distributed as dist
from mmengine.model import is_model_wrapper
from mmengine.registry import MODEL_WRAPPERS
from yolox_mm.engine.model_wrappers import ChannelsLastDistributedDataParallel
from yolox_mm.utils import launch

dist.init_process_group('gloo', init_method='file://' + sys.argv[1],
                        rank=0, world_size=1)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
weight = model[0].weight
# looked up as mmengine's Runner.wrap_model does (root registry)
assert MODEL_WRAPPERS.get(launch.CHANNELS_LAST_DDP) is \\
    ChannelsLastDistributedDataParallel
wrapped = MODEL_WRAPPERS.build(dict(type=launch.CHANNELS_LAST_DDP,
                                    module=model, device_ids=None,
                                    broadcast_buffers=False))
assert isinstance(wrapped, ChannelsLastDistributedDataParallel)
assert is_model_wrapper(wrapped)
assert model[0].weight is weight  # identity kept (optimizer)
assert weight.is_contiguous(memory_format=torch.channels_last)
assert not weight.is_contiguous()
x = torch.randn(2, 3, 8, 8).to(memory_format=torch.channels_last)
with warnings.catch_warnings():
    warnings.simplefilter('error')  # 'Grad strides do not match ...'
    wrapped(x).sum().backward()
assert weight.grad.is_contiguous(memory_format=torch.channels_last)
print('ok', flush=True)
os._exit(0)
"""


def test_channels_last_ddp_converts_before_the_wrap(tmp_path):
    # a 1-process gloo group: the module is NHWC when DDP takes it, so its
    # gradient buckets follow that layout (no stride mismatch warning)
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(repo), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-c', _WRAP_CHECK, str(tmp_path / 'store')],
        cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', \
        proc.stderr[-3000:]


def test_prepare_launch_initialises_gloo_once(monkeypatch):
    calls = _cpu_only(monkeypatch, initialised=False)
    cfg = Config(dict(launcher='pytorch',
                      env_cfg=dict(dist_cfg=dict(timeout=90))))
    launch.prepare_launch(cfg)
    assert [c['backend'] for c in calls] == ['gloo']
    assert calls[0]['timeout'].total_seconds() == 90


def test_prepare_launch_mpi_without_cuda_is_refused(monkeypatch):
    _cpu_only(monkeypatch)
    with pytest.raises(ValueError, match='launcher="mpi" needs CUDA; use '
                       '--launcher pytorch'):
        launch.prepare_launch(Config(dict(launcher='mpi')))


def test_slurm_environment(monkeypatch):
    for var, value in dict(SLURM_NODELIST='node[1-2]', SLURM_NTASKS='4',
                           SLURM_PROCID='3', SLURM_LOCALID='1',
                           MASTER_ADDR='node1').items():
        monkeypatch.setenv(var, value)
    for var in ('MASTER_PORT', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK'):
        monkeypatch.delenv(var, raising=False)
    launch._init_slurm_env('29511')
    assert {v: os.environ[v] for v in ('MASTER_ADDR', 'MASTER_PORT',
                                        'WORLD_SIZE', 'RANK',
                                        'LOCAL_RANK')} == dict(
        MASTER_ADDR='node1', MASTER_PORT='29511', WORLD_SIZE='4', RANK='3',
        LOCAL_RANK='1')


def _args(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('--work-dir')
    launch.add_launch_args(parser)
    return parser.parse_args(argv)


def test_load_config_applies_options_launcher_and_work_dir(
        tmp_path, monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    path = tmp_path / 'my_run.py'
    path.write_text('a = dict(b=1, c=2)\n')
    cfg = launch.load_config(_args(str(path), '--cfg-options', 'a.b=5',
                                   '--launcher', 'pytorch',
                                   '--local-rank', '2'))
    assert cfg.a == dict(b=5, c=2)
    assert cfg.launcher == 'pytorch'
    assert cfg.work_dir == os.path.join('./work_dirs', 'my_run')
    assert os.environ['LOCAL_RANK'] == '2'
    cfg = launch.load_config(_args(str(path), '--work-dir', 'elsewhere'))
    assert cfg.work_dir == 'elsewhere'


def test_enable_classwise_counts_coco_metrics_and_refuses_none():
    cfg = Config(dict(
        test_evaluator=[dict(type='mmdet.CocoMetric'),
                        dict(type='DumpDetResults')],
        val_evaluator=dict(type='CocoMetric')))
    assert launch.enable_classwise(cfg) == 2
    assert cfg.test_evaluator[0].classwise is True
    assert 'classwise' not in cfg.test_evaluator[1]
    assert cfg.val_evaluator.classwise is True
    with pytest.raises(ValueError, match=r"--classwise needs a CocoMetric in "
                       r"\['test_evaluator'\]; the config has none"):
        launch.enable_classwise(Config(dict(test_evaluator=dict(
            type='VOCMetric'))), keys=('test_evaluator', ))


def test_enable_tensorboard_adds_the_backend_once():
    cfg = Config(dict(visualizer=dict(
        type='DetLocalVisualizer',
        vis_backends=[dict(type='LocalVisBackend')])))
    launch.enable_tensorboard(cfg)
    launch.enable_tensorboard(cfg)
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'LocalVisBackend', 'TensorboardVisBackend']
    with pytest.raises(ValueError, match='--tensorboard needs a visualizer'):
        launch.enable_tensorboard(Config(dict()))


def test_build_runner_checks_data_then_installs_safe_loading(
        monkeypatch, tmp_path):
    steps = []
    monkeypatch.setattr(launch, 'install_safe_checkpoint_loading',
                        lambda: steps.append('safe loading'))
    monkeypatch.setattr(launch, 'prepare_launch',
                        lambda cfg: steps.append('prepare'))
    monkeypatch.setattr(launch.Runner, 'from_cfg',
                        staticmethod(lambda cfg: steps.append('runner')
                                     or 'the runner'))
    ok = Config(dict(launcher='none'))
    assert launch.build_runner(ok, 'ok.py') == 'the runner'
    assert steps == ['safe loading', 'prepare', 'runner']

    steps.clear()
    gone = str(tmp_path / 'gone')
    missing = Config(dict(test_dataloader=dict(dataset=dict(
        type='CocoDataset', data_root=gone, ann_file='a.json'))))
    with pytest.raises(SystemExit) as info:
        launch.build_runner(missing, 'cfg.py', loaders=('test_dataloader', ))
    assert str(info.value).startswith(
        'cfg.py: The dataset of this config is not on disk.')
    assert os.path.join(gone, 'a.json') in str(info.value)
    assert steps == []  # nothing changed before the data check
