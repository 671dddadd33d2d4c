"""The configs of the runs: ours shrunk for ``--smoke``, with a seed, and
written to the work dir."""
from pathlib import Path
from typing import Optional

from yolox_mm.utils.type_name import type_name
from .config_walk import plain_copy


def _find_hook(cfg, name: str) -> Optional[dict]:
    for hook in cfg.get('custom_hooks', []) or []:
        if type_name(hook.get('type', '')) == name:
            return hook
    return None


def apply_smoke(cfg) -> None:
    """Shrink ``cfg`` (our config) for ``--smoke``, in place: 2 epochs on
    2 training images (batch 2), mode switch before epoch 2, 2 val images,
    a val evaluation at the end."""
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 2
    cfg.train_cfg.dynamic_intervals = None
    cfg.train_dataloader.batch_size = 2
    inner = cfg.train_dataloader.dataset
    while 'dataset' in inner:  # through the mix wrapper
        inner = inner.dataset
    inner.indices = 2
    for loader in ('val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            cfg[loader].dataset.indices = 2
            cfg[loader].batch_size = 2
    cfg.param_scheduler = [
        dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=1,
             convert_to_iter_based=True),
        dict(type='ConstantLR', by_epoch=True, factor=1, begin=1, end=2),
    ]
    hook = _find_hook(cfg, 'YOLOXModeSwitchHook')
    if hook is not None:
        hook.num_last_epochs = 1
    cfg.default_hooks.logger.interval = 1
    # every prior passes: detections to evaluate after 2 epochs
    cfg.model.test_cfg.score_thr = 0.0
    cfg.default_hooks.checkpoint.interval = 2


def load_our_config(config: str, cfg_options: Optional[dict],
                    smoke: bool):
    """Our config ``config`` with ``cfg_options`` merged, shrunk by
    :func:`apply_smoke` if ``smoke``."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if smoke:
        apply_smoke(cfg)
    return cfg


def with_seed(cfg, seed: int):
    """A copy of ``cfg`` with ``randomness.seed = seed``."""
    from mmengine.config import Config
    d = plain_copy(cfg.to_dict())
    d['randomness'] = dict(d.get('randomness') or {}, seed=seed)
    return Config(d)


def dump_config(cfg, path: str) -> str:
    """Write ``cfg.pretty_text`` to ``path`` (folders made); returns it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    text = cfg.pretty_text
    Path(path).write_text(text)
    return text


def write_run_configs(ours_cfg, mmdet_cfg, runs, work_dir: str) -> list:
    """Write the config of each ``(impl, seed)`` run (``ours_cfg`` or
    ``mmdet_cfg`` with the seed) to ``<work_dir>/configs/<impl>_seed<S>.py``.

    Returns:
        list: ``(impl, seed, cfg_path, cfg_text, run_dir)`` per run, the
        jobs of :func:`yolox_mm.analysis.side_by_side.runs.run_all`.
    """
    jobs = []
    for impl, seed in runs:
        cfg = with_seed(ours_cfg if impl == 'ours' else mmdet_cfg, seed)
        name = f'{impl}_seed{seed}'
        cfg_path = str(Path(work_dir, 'configs', f'{name}.py'))
        jobs.append((impl, seed, cfg_path, dump_config(cfg, cfg_path),
                     str(Path(work_dir, name))))
    return jobs
