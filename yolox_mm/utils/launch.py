"""Launch fixes applied by ``tools/train.py``/``tools/test.py`` before the
Runner is built.

CPU-only distributed training (``--launcher pytorch|slurm`` on a machine
without CUDA) does not work with mmengine 0.10.7 as it is: its
``init_dist`` always calls ``torch.cuda.set_device``
(``mmengine/dist/utils.py``, ``_init_dist_pytorch`` and
``_init_dist_slurm``) and ``Runner.wrap_model`` passes
``device_ids=[int(os.environ['LOCAL_RANK'])]`` to DDP
(``mmengine/runner/runner.py``). On such a machine we initialise the gloo
process group ourselves (mmengine then skips ``init_dist``) and wrap with
``device_ids=None``. With CUDA nothing changes (NCCL as configured).

:func:`build_runner` also installs safe checkpoint loading
(:func:`~yolox_mm.utils.checkpoint.install_safe_checkpoint_loading`), the
one place our launchers change mmengine for the process.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .checkpoint import install_safe_checkpoint_loading
from .config_scope import enable_config_scope
from .data_check import check_data_paths
from .type_name import type_name


def _init_slurm_env(port: str = '29500') -> None:
    """Derive RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT/LOCAL_RANK from Slurm
    variables (as mmengine's ``_init_dist_slurm``, without CUDA calls)."""
    node_list = os.environ['SLURM_NODELIST']
    if 'MASTER_ADDR' not in os.environ:
        addr = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
        os.environ['MASTER_ADDR'] = addr
    os.environ.setdefault('MASTER_PORT', port)
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def prepare_launch(cfg: Config) -> None:
    """Make ``cfg`` launchable on this machine (in place).

    * ``cfg.launcher == 'none'`` or CUDA available: nothing to do.
    * CPU only and distributed: initialise a gloo process group from the
      launcher's environment (torchrun's ``RANK``/``WORLD_SIZE``/
      ``MASTER_ADDR``/``MASTER_PORT``, or Slurm's), set
      ``cfg.model_wrapper_cfg`` to ``MMDistributedDataParallel`` with
      ``device_ids=None``, and drop ``sync_bn`` (SyncBatchNorm needs GPUs).

    Raises:
        ValueError: for ``launcher='mpi'`` without CUDA (not supported).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher == 'mpi':
        raise ValueError('launcher="mpi" needs CUDA; use --launcher pytorch '
                         '(torchrun) or slurm for CPU-only training')
    # (Config.setdefault returns a copy of a new entry: assign instead)
    env_cfg = dict(cfg.get('env_cfg') or {})
    env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    cfg.env_cfg = env_cfg
    if not dist.is_initialized():
        if launcher == 'slurm':
            _init_slurm_env(str(cfg.env_cfg.dist_cfg.get('port', 29500)))
        timeout = cfg.env_cfg.dist_cfg.get('timeout')
        kwargs = {}
        if timeout is not None:
            import datetime
            kwargs['timeout'] = datetime.timedelta(seconds=timeout)
        dist.init_process_group(backend='gloo', **kwargs)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if cfg.get('sync_bn'):
        print_log(f'sync_bn={cfg.sync_bn!r} ignored: SyncBatchNorm needs '
                  'GPUs (CPU gloo training)', logger='current')
        cfg.sync_bn = None


#: The wrapper :func:`channels_last_before_wrap` chooses, by its module path:
#: mmengine's ``Runner.wrap_model`` looks the type up in mmengine's root
#: registry, which finds no 'yolox_mm.' name (a grandchild) but imports a
#: dotted path.
CHANNELS_LAST_DDP = ('yolox_mm.engine.model_wrappers.'
                     'ChannelsLastDistributedDataParallel')


def channels_last_before_wrap(cfg: Config) -> bool:
    """If ``cfg`` is distributed and its ``custom_hooks`` have a
    ``ChannelsLastHook``, wrap the model with
    :class:`~yolox_mm.engine.model_wrappers.
    ChannelsLastDistributedDataParallel` (in place): NHWC before DDP builds
    its gradient buckets, so that resume stays bitwise exact. A
    ``model_wrapper_cfg`` of another type than mmengine's
    ``MMDistributedDataParallel`` is left as it is.

    Returns:
        bool: whether the wrapper was set.
    """
    hooks = [type_name(h.get('type', '')) for h in
             cfg.get('custom_hooks') or [] if isinstance(h, dict)]
    if cfg.get('launcher', 'none') == 'none' or \
            'ChannelsLastHook' not in hooks:
        return False
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if type_name(wrapper.get('type', 'MMDistributedDataParallel')) not in (
            'MMDistributedDataParallel',
            type_name(CHANNELS_LAST_DDP)):
        return False
    wrapper['type'] = CHANNELS_LAST_DDP
    # mmengine's defaults for a wrapper it builds without a config
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    return True


def add_launch_args(parser: argparse.ArgumentParser) -> None:
    """The arguments ``tools/train.py`` and ``tools/test.py`` share:
    ``--cfg-options``, ``--launcher`` and ``--local-rank`` (mmdet's)."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. key=value or key="[a,b]"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def read_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config at ``path`` (``_base_ = 'yolox_mm::...'`` understood,
    :func:`~.config_scope.enable_config_scope`) with ``cfg_options`` (the
    ``--cfg-options`` of a CLI) merged in."""
    enable_config_scope()
    cfg = Config.fromfile(path)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_config(args: argparse.Namespace) -> Config:
    """``args.config`` with the launcher, ``--cfg-options`` and the work dir
    (``--work-dir``, else the config's, else ``./work_dirs/<config name>``)
    applied; sets ``LOCAL_RANK`` from ``--local-rank`` for the old
    launcher. ``_base_ = 'yolox_mm::...'`` is understood
    (:func:`~.config_scope.enable_config_scope`)."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = read_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def enable_classwise(cfg: Config,
                     keys=('test_evaluator', 'val_evaluator')) -> int:
    """Turn on the per-class AP table (``classwise=True``) of every
    ``CocoMetric`` under ``keys`` of ``cfg`` (in place; an evaluator may be
    a dict or a list of them). mmdet's CocoMetric then logs a table of
    per-class mAP, mAP_50 ... and returns ``coco/<class>_precision``.

    Returns:
        int: how many metrics were changed.

    Raises:
        ValueError: when ``cfg`` has no CocoMetric under ``keys``.
    """
    changed = 0
    for key in keys:
        evaluators = cfg.get(key)
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for evaluator in evaluators or []:
            if type_name(evaluator.get('type', '')) == 'CocoMetric':
                evaluator['classwise'] = True
                changed += 1
    if not changed:
        raise ValueError(f'--classwise needs a CocoMetric in {list(keys)}; '
                         'the config has none')
    return changed


def enable_tensorboard(cfg: Config) -> None:
    """Add mmengine's ``TensorboardVisBackend`` to ``cfg.visualizer`` (in
    place), next to the ``LocalVisBackend`` that writes the json log: the
    scalars (losses, learning rate, metrics) then also go to TensorBoard
    event files in ``<work_dir>/<timestamp>/vis_data/``. Needs the
    ``tensorboard`` package (``torch.utils.tensorboard``); nothing is
    added twice.

    Raises:
        ValueError: when the config has no ``visualizer``.
    """
    if not cfg.get('visualizer'):
        raise ValueError('--tensorboard needs a visualizer in the config '
                         "(e.g. visualizer=dict(type='DetLocalVisualizer'))")
    backends = list(cfg.visualizer.get('vis_backends') or [])
    if not any(type_name(b.get('type', '')) == 'TensorboardVisBackend'
               for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    cfg.visualizer.vis_backends = backends


def build_runner(cfg: Config, config_file: str,
                 loaders=('train_dataloader', 'val_dataloader',
                          'test_dataloader')) -> Runner:
    """Check the data paths of ``loaders`` (exits naming the missing paths),
    install safe checkpoint loading (weights-only ``load_from`` and
    ``--resume``, :func:`~yolox_mm.utils.checkpoint.
    install_safe_checkpoint_loading`), apply :func:`prepare_launch` and
    :func:`channels_last_before_wrap`, and build the Runner
    (``runner_type`` if the config names one)."""
    try:
        check_data_paths(cfg, loaders=loaders)
    except FileNotFoundError as e:
        sys.exit(f'{config_file}: {e}')
    install_safe_checkpoint_loading()
    prepare_launch(cfg)
    channels_last_before_wrap(cfg)
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
