"""Train yolox_mm and mmdet 3.3.0's YOLOX with the same config, seed and
schedule, evaluate both, and print their bbox mAPs in one table.

Usage::

    python tools/analysis_tools/side_by_side.py [CONFIG] [--seeds 0 1]
        [--impl ours mmdet] [--runs ours:0 ours:1 mmdet:0]
        [--work-dir work_dirs/side_by_side] [--threads 1] [--jobs 1]
        [--noise-evals 5] [--cfg-options k=v ...] [--reuse] [--smoke]
        [--derive-only] [--table-only]

CONFIG defaults to ``configs/yolox_nano_1xb4-200e_deepforest.py`` (the
tree-crown split). Every run (one implementation and one seed) is:

1. **Config.** Our config is loaded and ``--cfg-options`` are merged into it,
   then ``randomness.seed`` is set to the seed. That is the config of the
   ``ours`` run. The config of the ``mmdet`` run is *derived from it by
   code* (:func:`derive_mmdet_config`), never copied by hand. The
   derivation maps our registered components to mmdet's
   (:data:`TYPE_MAP`), renames or drops the arguments mmdet's classes do
   not take, drops our components mmdet has no equivalent of
   (:data:`DROP_TYPES`), sets ``default_scope='mmdet'`` and removes the
   ``yolox_mm`` import. It prints every change. If a yolox_mm-only type is
   left, it raises :class:`YoloxMMOnlyTypeError`, which names the type. Both
   configs are written to ``<work-dir>/configs/<impl>_seed<S>.py``, so you
   can diff them.
2. **Training** runs in a subprocess with ``OMP_NUM_THREADS`` and
   ``MKL_NUM_THREADS`` set to ``--threads``. Ours runs through
   ``tools/train.py``. mmdet's runs through a small mmengine ``Runner``
   entry of this script (``_worker``) that never imports yolox_mm. The
   entry checks this after training and records it in ``worker.json``.
   Work dir: ``<work-dir>/<impl>_seed<S>/``.
3. **Evaluation.** A second subprocess (``tools/test.py`` for ours, the
   ``_worker`` entry for mmdet) tests the final checkpoint
   (``last_checkpoint``) on the config's ``test_dataloader``. For the tree
   config that is the val split, with ``CocoMetric`` bbox. **Evaluated
   weights: the EMA weights, for both.** mmengine's ``EMAHook`` saves the
   EMA parameters as the checkpoint's ``state_dict`` (the raw ones go to
   ``ema_state_dict``). When the checkpoint is loaded for testing, it
   copies that ``state_dict`` into its EMA model as well, and it swaps the
   EMA model in for val/test. The in-training val curve in the json log
   evaluates the EMA weights too, so its last point equals the test
   metrics. The table checks this ("= final val"). There is deliberately no
   in-process ``runner.test()`` after ``runner.train()``: its second
   ``before_run`` would rebuild the EMA model from the raw weights.
4. **Metrics** are parsed from the json logs, never from stdout. The test
   metrics come from ``test/<timestamp>/<timestamp>.json``. The val curve
   comes from ``<timestamp>/vis_data/<timestamp>.json``. Each run writes a
   ``result.json``.

Output: a table with the columns impl, seed, bbox mAP, mAP@0.5, train wall
time and s/epoch, then the mean and spread (max - min) over seeds per
implementation. If the config evaluates periodically (e.g. with
``--cfg-options train_cfg.val_interval=10``), two more tables follow. The
first gives, per run, the mean, standard deviation and range of the last
``--noise-evals`` val evaluations. The std and range are the eval-to-eval
fluctuation; the mean is a less noisy figure than the final evaluation
alone. The second gives the mean of those means per implementation. The
val curves (mAP@0.5 and bbox mAP per evaluated epoch) come last.
Everything is printed and also written as markdown to
``<work-dir>/side_by_side.md``.

Wall time is the wall time of the training subprocess: start-up, data
loading and the val evaluations are included. s/epoch = wall time / epochs.
Use ``--jobs 2`` to run two trainings at a time.

``--smoke`` tests the machinery in well under a minute of training. It uses
2 epochs on 2 training images, 2 val images, the mode switch before the
second epoch, and ``work_dirs/side_by_side_smoke``. Its numbers mean
nothing.

``--reuse`` skips a run whose ``result.json`` exists and was made from the
same config text. Use it to add a seed to an earlier comparison.
``--table-only`` runs nothing and makes the table from the ``result.json``
files of the listed runs. ``--derive-only`` only writes the two configs
and prints the derivation.

Use unprefixed type names in the mmdet config, as :data:`TYPE_MAP` does.
``type='mmdet.Mosaic'`` builds the same class, but mmdet's
``MultiImageMixDataset`` then no longer turns Mosaic off in the last
epochs. :func:`check_skip_types` refuses such a config.

Known semantic difference that the config cannot express: our
``YOLOXModeSwitchHook`` switches for exactly ``num_last_epochs`` epochs,
while mmdet's switches one epoch earlier (``(epoch + 1) >= max_epochs -
num_last_epochs``). See that hook's docstring. Both runs use the same
``num_last_epochs``.
"""
import argparse
import concurrent.futures
import hashlib
import inspect
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import threading
import time
from glob import glob
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = 'configs/yolox_nano_1xb4-200e_deepforest.py'

# Our registered component -> the name of mmdet 3.3.0's component of the
# same function (mmcv's for the image loader). The names are unprefixed, as
# in mmdet's own configs: under default_scope='mmdet' they resolve in mmdet's
# registries first (the derivation checks that each resolves to an mmdet or
# mmcv class). Not 'mmdet.Mosaic': mmdet's MultiImageMixDataset compares the
# *type strings* of its pipeline with YOLOXModeSwitchHook's skip_type_keys
# ('Mosaic', 'RandomAffine', 'MixUp'), so a prefixed 'mmdet.Mosaic' would
# silently stay on in the last epochs (:func:`check_skip_types`).
TYPE_MAP = {
    'CSPDarknet': 'CSPDarknet',
    'YOLOXPAFPN': 'YOLOXPAFPN',
    'YOLOXHead': 'YOLOXHead',
    'SimOTAAssigner': 'SimOTAAssigner',
    'YOLOX': 'YOLOX',
    'Mosaic': 'Mosaic',
    # mmdet's own, skipping the samples a Mosaic(prob < 1) did not tile
    'RandomAffine': 'RandomAffine',
    'MixUp': 'MixUp',
    'YOLOXModeSwitchHook': 'YOLOXModeSwitchHook',
    'YOLOXMixImageDataset': 'MultiImageMixDataset',
    # mmdet's CocoDataset / mmcv's loader plus input checks (malformed
    # json, unusable boxes, unreadable files): same data on a clean set
    'CheckedCocoDataset': 'CocoDataset',
    'CheckedLoadImageFromFile': 'LoadImageFromFile',
}
# Our components without an mmdet equivalent: dropped, with the reason.
DROP_TYPES = {
    'DeterministicResumeHook':
    'yolox_mm only: reseeds random/numpy/torch with seed + epoch at every '
    'train epoch and keeps BatchSyncRandomResize\'s next size in '
    'checkpoints (exact resume); mmdet has no equivalent, so mmdet\'s run '
    'draws from one continuing random stream',
    'CheckFiniteLossHook':
    'yolox_mm only: stops training at the first NaN/inf loss; no effect on '
    'a run whose losses stay finite',
}
# Arguments that mmdet spells differently: (our type, our arg) -> mmdet arg.
RENAME_ARGS = {
    ('CSPDarknet', 'spp_kernel_sizes'): 'spp_kernal_sizes',
}
# Config keys whose ``type`` names an mmcv op, not a registry entry.
NON_REGISTRY_TYPE_KEYS = ('nms', )
# Default work dirs.
DEFAULT_WORK_DIR = 'work_dirs/side_by_side'
SMOKE_WORK_DIR = 'work_dirs/side_by_side_smoke'
IMPLS = ('ours', 'mmdet')


class YoloxMMOnlyTypeError(ValueError):
    """A yolox_mm-only component is left in the derived mmdet config."""


# --------------------------------------------------------------------------
# config derivation
# --------------------------------------------------------------------------
def _plain(obj):
    """A deep copy of a config tree as plain dicts, lists and tuples. No two
    paths share a container, as they can after ``a = b`` in a config
    file."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(v) for v in obj)
    return obj


def our_registered_types() -> Dict[str, str]:
    """Name -> registry of every component that yolox_mm registers."""
    import yolox_mm  # noqa: F401  (registration)
    from mmengine.registry import Registry
    from yolox_mm import registry as ours

    names = {}
    for attr in dir(ours):
        reg = getattr(ours, attr)
        if isinstance(reg, Registry) and reg.scope == 'yolox_mm':
            reg.import_from_location()
            for name in reg.module_dict:
                names[name] = reg.name
    return names


def _mmdet_registries():
    from mmdet import registry as m
    return [
        m.MODELS, m.TASK_UTILS, m.TRANSFORMS, m.HOOKS, m.DATASETS,
        m.DATA_SAMPLERS, m.PARAM_SCHEDULERS, m.OPTIMIZERS, m.OPTIM_WRAPPERS,
        m.OPTIM_WRAPPER_CONSTRUCTORS, m.METRICS, m.EVALUATOR, m.VISUALIZERS,
        m.VISBACKENDS, m.LOG_PROCESSORS, m.LOOPS, m.RUNNERS,
        m.WEIGHT_INITIALIZERS, m.MODEL_WRAPPERS
    ]


def resolve_in_mmdet(type_name: str):
    """The class that ``type_name`` resolves to in mmdet's registries, or
    None. An mmdet registry looks a name up in itself and then in its
    parents (mmengine's root registries, where mmcv registers activations,
    norms and base transforms), never in children such as yolox_mm's: the
    lookup of a run under ``default_scope='mmdet'``."""
    for reg in _mmdet_registries():
        cls = reg.get(type_name)
        if cls is not None:
            return cls
    return None


def _init_params(cls) -> Tuple[set, bool]:
    """Names of ``cls.__init__``'s parameters and whether it takes
    ``**kwargs``."""
    params = inspect.signature(cls.__init__).parameters.values()
    names = {p.name for p in params} - {'self'}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return names, var_kw


_DROP = object()


def _walk(node, path: str, ours: Dict[str, str], changes: List[str]):
    """Map ``node`` (a plain config tree) in place where possible; returns
    the new node, or ``_DROP`` to remove it from its container."""
    if isinstance(node, dict):
        t = node.get('type')
        if isinstance(t, str) and not path.endswith(NON_REGISTRY_TYPE_KEYS):
            node = _map_component(node, t, path, ours, changes)
            if node is _DROP:
                return _DROP
        for key in list(node):
            if key == 'type':
                continue
            new = _walk(node[key], f'{path}.{key}' if path else key, ours,
                        changes)
            if new is _DROP:
                del node[key]
            else:
                node[key] = new
        return node
    if isinstance(node, (list, tuple)):
        out = []
        for i, item in enumerate(node):
            new = _walk(item, f'{path}[{i}]', ours, changes)
            if new is not _DROP:
                out.append(new)
        return type(node)(out)
    return node


def _map_component(node: dict, t: str, path: str, ours: Dict[str, str],
                   changes: List[str]):
    scope, _, name = t.rpartition('.')
    if scope not in ('', 'yolox_mm'):
        return node  # explicitly another package's (mmdet., mmengine. ...)
    if name in DROP_TYPES:
        changes.append(f'drop   {path}: {t} ({DROP_TYPES[name]})')
        return _DROP
    if name in TYPE_MAP:
        new_type = TYPE_MAP[name]
        cls = resolve_in_mmdet(new_type)
        if cls is None or not cls.__module__.startswith(('mmdet.', 'mmcv.')):
            raise YoloxMMOnlyTypeError(
                f'{path}: {new_type!r} (for our {t}) does not resolve to an '
                f'mmdet/mmcv class in mmdet\'s registries (got {cls})')
        changes.append(f'map    {path}.type: {t} -> {new_type} '
                       f'({cls.__module__}.{cls.__qualname__})')
        accepted, var_kw = _init_params(cls)
        from mmengine.hooks import Hook
        if isinstance(cls, type) and issubclass(cls, Hook):
            accepted.add('priority')  # taken by Runner.register_hook
        for arg in list(node):
            if arg in ('type', '_scope_') or arg in accepted or var_kw:
                continue
            renamed = RENAME_ARGS.get((name, arg))
            if renamed is not None and renamed in accepted:
                node[renamed] = node.pop(arg)
                changes.append(f'rename {path}.{arg} -> {renamed} '
                               f'(mmdet\'s spelling in {new_type})')
            else:
                value = node.pop(arg)
                changes.append(f'drop   {path}.{arg}={value!r} (not an '
                               f'argument of {new_type})')
        node['type'] = new_type
        return node
    if scope == 'yolox_mm' or name in ours:
        raise YoloxMMOnlyTypeError(
            f'{path}: {t!r} is a yolox_mm-only type with no mmdet mapping '
            '(add it to TYPE_MAP or DROP_TYPES in '
            'tools/analysis_tools/side_by_side.py)')
    return node


def _check_activations(cfg: dict, changes: List[str]) -> None:
    """Report the activations of the model and check that they build in
    mmdet's scope (mmcv registers torch's activations in mmengine's root
    MODELS, the parent of mmdet's)."""
    acts = set()

    def visit(node):
        if isinstance(node, dict):
            act = node.get('act_cfg')
            if isinstance(act, dict) and isinstance(act.get('type'), str):
                acts.add(act['type'])
            for v in node.values():
                visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)

    visit(cfg.get('model', {}))
    for act in sorted(acts):
        cls = resolve_in_mmdet(act)
        if cls is None:
            raise YoloxMMOnlyTypeError(
                f'activation {act!r} does not build in mmdet\'s scope')
        note = ''
        if act == 'SiLU':
            note = ('; mmdet\'s modules default to Swish (x * sigmoid(x)), '
                    'the same function as SiLU up to rounding')
        changes.append(f'keep   act_cfg type={act!r} for mmdet\'s modules: '
                       f'builds {cls.__module__}.{cls.__qualname__} in '
                       f'mmdet\'s scope{note}')


def check_skip_types(cfg: dict) -> None:
    """Raise if a transform that a ``YOLOXModeSwitchHook`` turns off is
    named differently in the train dataset's pipeline: mmdet's
    ``MultiImageMixDataset`` skips a transform only if its config ``type``
    string is in ``skip_type_keys`` (``'mmdet.Mosaic'`` is not
    ``'Mosaic'``)."""
    for hook in cfg.get('custom_hooks') or []:
        hook_cls = resolve_in_mmdet(hook.get('type', ''))
        if hook_cls is None or hook_cls.__name__ != 'YOLOXModeSwitchHook':
            continue
        skip = hook.get('skip_type_keys')
        if skip is None:
            skip = inspect.signature(
                hook_cls.__init__).parameters['skip_type_keys'].default
        pipeline = ((cfg.get('train_dataloader') or {}).get('dataset')
                    or {}).get('pipeline') or []
        for i, transform in enumerate(pipeline):
            t = transform.get('type') if isinstance(transform, dict) else None
            cls = resolve_in_mmdet(t) if isinstance(t, str) else None
            if cls is not None and cls.__name__ in skip and t not in skip:
                raise YoloxMMOnlyTypeError(
                    f'train_dataloader.dataset.pipeline[{i}].type={t!r} is '
                    f'not in the mode switch\'s skip_type_keys {tuple(skip)}: '
                    f'{cls.__name__} would stay on in the last epochs')


def unresolved_types(cfg: dict) -> List[Tuple[str, str]]:
    """``(path, type)`` of every ``type`` (and ``ema_type``) in ``cfg`` that
    does not resolve to a non-yolox_mm class in mmdet's registries."""
    bad = []

    def visit(node, path):
        if isinstance(node, dict):
            for key in ('type', 'ema_type'):
                t = node.get(key)
                if (isinstance(t, str) and
                        not path.endswith(NON_REGISTRY_TYPE_KEYS)):
                    cls = resolve_in_mmdet(t)
                    if cls is None or cls.__module__.startswith('yolox_mm'):
                        bad.append((f'{path}.{key}', t))
            for k, v in node.items():
                visit(v, f'{path}.{k}' if path else k)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, f'{path}[{i}]')

    visit(cfg, '')
    return bad


def derive_mmdet_config(cfg) -> Tuple[Any, List[str]]:
    """Derive the config of mmdet 3.3.0's YOLOX from our config.

    Args:
        cfg (mmengine.Config | dict): Our config (bases merged).

    Returns:
        (Config, list[str]): The mmdet config and one line per change made
        (``map``, ``rename``, ``drop``, ``set``) or checked (``keep``).

    Raises:
        YoloxMMOnlyTypeError: A yolox_mm-only type is left, or a type does
            not resolve in mmdet's registries.
    """
    from mmengine.config import Config

    src = cfg.to_dict() if isinstance(cfg, Config) else cfg
    d = _plain(src)
    ours = our_registered_types()
    changes: List[str] = []

    scope = d.get('default_scope')
    if scope != 'mmdet':
        changes.append(f'set    default_scope: {scope!r} -> \'mmdet\'')
    d['default_scope'] = 'mmdet'
    imports = d.get('custom_imports')
    if imports:
        mods = list(imports.get('imports', []))
        kept = [m for m in mods if not m.split('.')[0] == 'yolox_mm']
        if kept != mods:
            if kept:
                d['custom_imports'] = dict(imports, imports=kept)
                changes.append(f'set    custom_imports.imports: {mods} -> '
                               f'{kept}')
            else:
                del d['custom_imports']
                changes.append(f'drop   custom_imports (imports={mods})')

    d = _walk(d, '', ours, changes)
    _check_activations(d, changes)
    check_skip_types(d)
    bad = unresolved_types(d)
    if bad:
        raise YoloxMMOnlyTypeError(
            'types that do not resolve to mmdet components: ' +
            ', '.join(f'{p}={t!r}' for p, t in bad))
    return Config(d), changes


# --------------------------------------------------------------------------
# configs of the runs
# --------------------------------------------------------------------------
def _find_hook(cfg, type_name: str) -> Optional[dict]:
    for hook in cfg.get('custom_hooks', []) or []:
        if hook.get('type', '').rpartition('.')[2] == type_name:
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
    d = _plain(cfg.to_dict())
    d['randomness'] = dict(d.get('randomness') or {}, seed=seed)
    return Config(d)


def dump_config(cfg, path: str) -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    text = cfg.pretty_text
    Path(path).write_text(text)
    return text


# --------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------
def _env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
        env[var] = str(threads)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(REPO), env.get('PYTHONPATH')) if p)
    return env


def git_state() -> dict:
    """HEAD and the uncommitted changes of the work tree (the code a run
    of ours actually used)."""
    def git(*a):
        try:
            return subprocess.run(['git', *a], cwd=REPO, capture_output=True,
                                  text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            return ''
    status = git('status', '--porcelain', '--', 'yolox_mm', 'configs',
                 'tools')
    diff = git('diff', 'HEAD', '--', 'yolox_mm', 'configs', 'tools')
    untracked = [
        line[3:] for line in status.splitlines() if line.startswith('??')
    ]
    h = hashlib.sha256(diff.encode())
    for path in sorted(untracked):
        for f in sorted(Path(REPO, path).rglob('*')) if Path(
                REPO, path).is_dir() else [Path(REPO, path)]:
            if f.is_file():
                h.update(str(f.relative_to(REPO)).encode())
                h.update(f.read_bytes())
    return dict(head=git('rev-parse', 'HEAD').strip(),
                changed=status.splitlines(), changes_sha256=h.hexdigest())


def _run_logged(cmd: List[str], log: str, env: dict) -> Tuple[int, float]:
    t0 = time.perf_counter()
    with open(log, 'w') as f:
        f.write('$ ' + ' '.join(cmd) + '\n')
        f.flush()
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=f,
                              stderr=subprocess.STDOUT)
    return proc.returncode, time.perf_counter() - t0


def _commands(impl: str, cfg_path: str, run_dir: str,
              ckpt: Optional[str] = None) -> List[str]:
    py = sys.executable
    if impl == 'ours':
        if ckpt is None:
            return [py, str(REPO / 'tools' / 'train.py'), cfg_path,
                    '--work-dir', run_dir]
        return [py, str(REPO / 'tools' / 'test.py'), cfg_path, ckpt,
                '--work-dir', osp.join(run_dir, 'test')]
    me = str(Path(__file__).resolve())
    if ckpt is None:
        return [py, me, '_worker', 'train', cfg_path, run_dir]
    return [py, me, '_worker', 'test', cfg_path, osp.join(run_dir, 'test'),
            ckpt]


def _json_records(path: str) -> List[dict]:
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                records.append(json.loads(line))
    return records


def _newest_train_log(run_dir: str) -> Optional[str]:
    logs = sorted(glob(osp.join(run_dir, '*', 'vis_data', '*.json')))
    logs = [p for p in logs if osp.basename(p) != 'scalars.json']
    return logs[-1] if logs else None


def read_val_curve(run_dir: str) -> List[dict]:
    """The val evaluations of the newest training log in ``run_dir``:
    ``[{'epoch', 'bbox_mAP', 'bbox_mAP_50'}]``. A val record without COCO
    metrics (CocoMetric returns none when there is no detection at all)
    counts as 0 with ``no_detections``."""
    log = _newest_train_log(run_dir)
    if log is None:
        return []
    curve = []
    for rec in _json_records(log):
        if 'epoch' in rec or 'lr' in rec:
            continue  # a training record
        point = dict(epoch=rec['step'],
                     bbox_mAP=rec.get('coco/bbox_mAP', 0.0),
                     bbox_mAP_50=rec.get('coco/bbox_mAP_50', 0.0))
        if 'coco/bbox_mAP' not in rec:
            point['no_detections'] = True
        curve.append(point)
    return curve


def read_train_epochs(run_dir: str) -> int:
    log = _newest_train_log(run_dir)
    epochs = [r['epoch'] for r in _json_records(log) if 'epoch' in r] \
        if log else []
    return max(epochs) if epochs else 0


EMPTY_RESULTS = 'The testing results of the whole dataset is empty'


def read_test_metrics(test_dir: str, log: Optional[str] = None) -> dict:
    """The metrics of the newest test json log (``<ts>/<ts>.json``). If it
    has no COCO metrics because there was no detection at all (``log``, the
    test's stdout, says so), bbox mAP and mAP@0.5 are 0 with
    ``no_detections``."""
    logs = sorted(glob(osp.join(test_dir, '*', '*.json')))
    if not logs:
        raise RuntimeError(f'no test json log under {test_dir}')
    recs = _json_records(logs[-1])
    for rec in reversed(recs):
        if 'coco/bbox_mAP' in rec:
            return dict(rec, json=logs[-1])
    if log is not None and EMPTY_RESULTS in Path(log).read_text():
        return {'coco/bbox_mAP': 0.0, 'coco/bbox_mAP_50': 0.0,
                'no_detections': True, 'json': logs[-1]}
    raise RuntimeError(f'no coco/bbox_mAP in {logs[-1]}')


def run_one(impl: str, seed: int, cfg_path: str, cfg_text: str,
            run_dir: str, threads: int, reuse: bool,
            say=print) -> dict:
    """Train and test one run; returns (and writes) its ``result.json``."""
    result_path = osp.join(run_dir, 'result.json')
    cfg_hash = hashlib.sha256(cfg_text.encode()).hexdigest()
    if reuse and osp.isfile(result_path):
        with open(result_path) as f:
            old = json.load(f)
        if old.get('config_sha256') == cfg_hash and old.get('ok'):
            say(f'[reuse] {impl} seed {seed}: {result_path}')
            return old
    os.makedirs(run_dir, exist_ok=True)
    env = _env(threads)
    res = dict(impl=impl, seed=seed, config=cfg_path, config_sha256=cfg_hash,
               run_dir=run_dir, threads=threads, ok=False)
    res['git'] = git_state()
    res['started'] = time.strftime('%Y-%m-%d %H:%M:%S %Z')
    train_cmd = _commands(impl, cfg_path, run_dir)
    res['train_cmd'] = ' '.join(train_cmd)
    say(f'[start] {impl} seed {seed}: training, log '
        f'{osp.join(run_dir, "train.log")}')
    rc, wall = _run_logged(train_cmd, osp.join(run_dir, 'train.log'), env)
    res['train_wall_s'] = wall
    if rc != 0:
        res['error'] = f'training exited with {rc}'
        say(f'[FAIL] {impl} seed {seed}: {res["error"]}, see '
            f'{osp.join(run_dir, "train.log")}')
        _write_json(result_path, res)
        return res
    epochs = read_train_epochs(run_dir)
    res['epochs'] = epochs
    res['s_per_epoch'] = wall / epochs if epochs else None
    res['val_curve'] = read_val_curve(run_dir)
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    res['checkpoint'] = ckpt
    if impl == 'mmdet':
        with open(osp.join(run_dir, 'worker.json')) as f:
            res['yolox_mm_imported'] = json.load(f)['yolox_mm_imported']
    test_cmd = _commands(impl, cfg_path, run_dir, ckpt)
    res['test_cmd'] = ' '.join(test_cmd)
    say(f'[test]  {impl} seed {seed}: trained in {wall / 60:.1f} min, '
        f'testing {osp.basename(ckpt)}')
    rc, test_wall = _run_logged(test_cmd, osp.join(run_dir, 'test.log'), env)
    res['test_wall_s'] = test_wall
    if rc != 0:
        res['error'] = f'test exited with {rc}'
        say(f'[FAIL] {impl} seed {seed}: {res["error"]}, see '
            f'{osp.join(run_dir, "test.log")}')
        _write_json(result_path, res)
        return res
    metrics = read_test_metrics(osp.join(run_dir, 'test'),
                                osp.join(run_dir, 'test.log'))
    res['test_json'] = metrics.pop('json')
    res['bbox_mAP'] = metrics['coco/bbox_mAP']
    res['bbox_mAP_50'] = metrics['coco/bbox_mAP_50']
    res['test_metrics'] = metrics
    last = res['val_curve'][-1] if res['val_curve'] else None
    res['equals_final_val'] = (
        None if last is None or last['epoch'] != epochs else
        (last['bbox_mAP'], last['bbox_mAP_50']) == (res['bbox_mAP'],
                                                    res['bbox_mAP_50']))
    res['ok'] = True
    _write_json(result_path, res)
    say(f'[done]  {impl} seed {seed}: bbox mAP {res["bbox_mAP"]:.3f}, '
        f'mAP@0.5 {res["bbox_mAP_50"]:.3f}, {wall / 60:.1f} min')
    return res


def _write_json(path: str, obj) -> None:
    with open(path, 'w') as f:
        json.dump(obj, f, indent=1)


# --------------------------------------------------------------------------
# the worker entry of the mmdet runs (imports neither yolox_mm nor this
# file's derivation code)
# --------------------------------------------------------------------------
def _allow_mmengine_checkpoints() -> None:
    """torch >= 2.6 loads weights-only: allow-list the non-tensor globals
    of mmengine checkpoints (the list of yolox_mm.utils.checkpoint, copied
    here so that the mmdet run does not import yolox_mm)."""
    import numpy as np
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    dtypes = {type(np.dtype(t)) for t in (np.float16, np.float32, np.float64,
                                          np.int32, np.int64, np.bool_)}
    torch.serialization.add_safe_globals([
        HistoryBuffer, multiarray._reconstruct, multiarray.scalar,
        np.ndarray, np.dtype, getattr, *sorted(dtypes, key=str)
    ])


def worker_main(argv: List[str]) -> None:
    """``_worker train CFG WORK_DIR`` or ``_worker test CFG WORK_DIR CKPT``:
    an mmengine Runner, as tools/train.py / tools/test.py do."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    mode, cfg_path, work_dir = argv[:3]
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    if mode == 'train':
        runner = Runner.from_cfg(cfg)
        runner.train()
    elif mode == 'test':
        _allow_mmengine_checkpoints()
        cfg.load_from = argv[3]
        runner = Runner.from_cfg(cfg)
        metrics = runner.test()
        if 'coco/bbox_mAP' in metrics:
            print(f"bbox mAP = {metrics['coco/bbox_mAP']:.3f}, "
                  f"mAP@0.5 = {metrics['coco/bbox_mAP_50']:.3f}")
    else:
        raise SystemExit(f'unknown worker mode {mode!r}')
    imported = sorted(m for m in sys.modules
                      if m == 'yolox_mm' or m.startswith('yolox_mm.'))
    out = osp.join(work_dir if mode == 'train' else osp.dirname(work_dir),
                   'worker.json' if mode == 'train' else 'worker_test.json')
    _write_json(out, dict(mode=mode, yolox_mm_imported=bool(imported),
                          yolox_mm_modules=imported[:5]))
    if imported:
        raise SystemExit(f'the mmdet run imported yolox_mm: {imported[:5]}')


# --------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------
def _f(x, nd=3):
    return '-' if x is None else f'{x:.{nd}f}'


def _eval_noise(curve: List[dict], k: int) -> Optional[dict]:
    """Mean, standard deviation and range of the last ``k`` val
    evaluations of a run (None with fewer than 2)."""
    last = curve[-k:]
    if len(last) < 2:
        return None
    m = [p['bbox_mAP'] for p in last]
    m50 = [p['bbox_mAP_50'] for p in last]
    return dict(
        n=len(last), epochs=(last[0]['epoch'], last[-1]['epoch']),
        mean_mAP=statistics.mean(m), std_mAP=statistics.stdev(m),
        mean_mAP_50=statistics.mean(m50), std_mAP_50=statistics.stdev(m50),
        range_mAP_50=max(m50) - min(m50))


def make_table(results: List[dict], noise_evals: int = 5) -> str:
    ok = [r for r in results if r.get('ok')]
    lines = [
        '| impl | seed | bbox mAP | mAP@0.5 | train wall (min) | s/epoch | '
        'epochs | = final val |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in results:
        if not r.get('ok'):
            lines.append(f'| {r["impl"]} | {r["seed"]} | failed: '
                         f'{r.get("error")} | | | | | |')
            continue
        eq = {True: 'yes', False: 'NO', None: '-'}[r.get('equals_final_val')]
        lines.append(
            f'| {r["impl"]} | {r["seed"]} | {_f(r["bbox_mAP"])} | '
            f'{_f(r["bbox_mAP_50"])} | {r["train_wall_s"] / 60:.1f} | '
            f'{_f(r["s_per_epoch"], 2)} | {r["epochs"]} | {eq} |')
    lines += [
        '',
        '| impl | runs | mean bbox mAP | spread bbox mAP | mean mAP@0.5 | '
        'spread mAP@0.5 | mean s/epoch |',
        '|---|---|---|---|---|---|---|',
    ]
    for impl in IMPLS:
        rs = [r for r in ok if r['impl'] == impl]
        if not rs:
            continue
        m = [r['bbox_mAP'] for r in rs]
        m50 = [r['bbox_mAP_50'] for r in rs]
        spread = (lambda v: _f(max(v) - min(v)) if len(v) > 1 else
                  '- (1 seed)')
        lines.append(
            f'| {impl} | {len(rs)} | {_f(statistics.mean(m))} | {spread(m)} '
            f'| {_f(statistics.mean(m50))} | {spread(m50)} | '
            f'{_f(statistics.mean(r["s_per_epoch"] for r in rs), 2)} |')
    lines.append('')
    lines.append('spread = max - min over seeds. Metrics: COCO bbox mAP and '
                 'mAP@0.5 of the final checkpoint (EMA weights) on the '
                 'test_dataloader, from the test json log.')
    noise = [(r, _eval_noise(r.get('val_curve') or [], noise_evals))
             for r in ok]
    noise = [(r, n) for r, n in noise if n]
    if noise:
        lines += [
            '',
            f'Last {noise_evals} val evaluations of each run (EMA weights, '
            'as in the test): their mean, and the eval-to-eval fluctuation '
            '(std, range):',
            '',
            '| impl | seed | epochs (evals) | mean bbox mAP | std bbox mAP | '
            'mean mAP@0.5 | std mAP@0.5 | range mAP@0.5 |',
            '|---|---|---|---|---|---|---|---|',
        ]
        for r, n in noise:
            lines.append(
                f'| {r["impl"]} | {r["seed"]} | {n["epochs"][0]}-'
                f'{n["epochs"][1]} ({n["n"]}) | {_f(n["mean_mAP"], 4)} | '
                f'{_f(n["std_mAP"], 4)} | {_f(n["mean_mAP_50"], 4)} | '
                f'{_f(n["std_mAP_50"], 4)} | {_f(n["range_mAP_50"])} |')
        lines += [
            '',
            f'| impl | runs | mean of the last-{noise_evals} means, bbox mAP '
            '| spread | mean of the last-{0} means, mAP@0.5 | spread |'.format(
                noise_evals),
            '|---|---|---|---|---|---|',
        ]
        for impl in IMPLS:
            ns = [n for r, n in noise if r['impl'] == impl]
            if not ns:
                continue
            m = [n['mean_mAP'] for n in ns]
            m50 = [n['mean_mAP_50'] for n in ns]
            spread = (lambda v: _f(max(v) - min(v), 4) if len(v) > 1 else
                      '- (1 seed)')
            lines.append(
                f'| {impl} | {len(ns)} | {_f(statistics.mean(m), 4)} | '
                f'{spread(m)} | {_f(statistics.mean(m50), 4)} | '
                f'{spread(m50)} |')
    curves = [r for r in ok if len(r.get('val_curve') or []) > 1]
    if curves:
        epochs = sorted({p['epoch'] for r in curves for p in r['val_curve']})
        lines += [
            '', 'Val mAP@0.5 (bbox mAP) per evaluated epoch:', '',
            '| epoch | ' + ' | '.join(f'{r["impl"]} s{r["seed"]}'
                                      for r in curves) + ' |',
            '|---' * (len(curves) + 1) + '|'
        ]
        for e in epochs:
            cells = []
            for r in curves:
                p = next((p for p in r['val_curve'] if p['epoch'] == e),
                         None)
                cells.append('-' if p is None else
                             f'{p["bbox_mAP_50"]:.3f} ({p["bbox_mAP"]:.3f})')
            lines.append(f'| {e} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Train yolox_mm and mmdet 3.3.0 YOLOX with the same '
        'config, seed and schedule; print both bbox mAPs in one table.')
    p.add_argument('config', nargs='?', default=DEFAULT_CONFIG,
                   help=f'our config (default {DEFAULT_CONFIG})')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--impl', nargs='+', choices=IMPLS, default=list(IMPLS))
    p.add_argument('--runs', nargs='+', metavar='IMPL:SEED',
                   help='explicit runs instead of --impl x --seeds, e.g. '
                   'ours:0 ours:1 mmdet:0')
    p.add_argument('--work-dir', help=f'default {DEFAULT_WORK_DIR} '
                   f'({SMOKE_WORK_DIR} with --smoke)')
    p.add_argument('--threads', type=int, default=1,
                   help='OMP/MKL threads of each training (default 1)')
    p.add_argument('--jobs', type=int, default=1,
                   help='trainings run at the same time (default 1)')
    p.add_argument('--noise-evals', type=int, default=5,
                   help='last val evaluations used for the eval-to-eval '
                   'fluctuation (default 5)')
    p.add_argument('--reuse', action='store_true',
                   help='skip runs whose result.json has the same config')
    p.add_argument('--smoke', action='store_true',
                   help='2 epochs on 2 images: tests the machinery')
    p.add_argument('--table-only', action='store_true',
                   help='run nothing: make the table from the result.json '
                   'files of the runs in the work dir')
    p.add_argument('--derive-only', action='store_true',
                   help='write the configs and print the derivation only')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides merged into our config before the mmdet '
                   'config is derived (so they apply to both)')
    args = p.parse_args(argv)
    if args.runs:
        runs = []
        for item in args.runs:
            impl, _, seed = item.partition(':')
            if impl not in IMPLS or not seed.lstrip('-').isdigit():
                p.error(f'--runs: expected IMPL:SEED with IMPL in {IMPLS}, '
                        f'got {item!r}')
            runs.append((impl, int(seed)))
    else:
        runs = [(impl, s) for s in args.seeds for impl in args.impl]
    args.run_list = runs
    if args.work_dir is None:
        args.work_dir = SMOKE_WORK_DIR if args.smoke else DEFAULT_WORK_DIR
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['_worker']:
        worker_main(argv[1:])
        return 0
    args = parse_args(argv)
    os.chdir(REPO)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)

    if args.table_only:
        results = []
        for impl, seed in args.run_list:
            path = osp.join(work_dir, f'{impl}_seed{seed}', 'result.json')
            if osp.isfile(path):
                with open(path) as f:
                    results.append(json.load(f))
            else:
                results.append(dict(impl=impl, seed=seed, ok=False,
                                    error=f'no {path}'))
        return _write_table(args, work_dir, results, None)

    ours_cfg = load_our_config(args.config, args.cfg_options, args.smoke)
    mmdet_cfg, changes = derive_mmdet_config(ours_cfg)
    print(f'mmdet config derived from {args.config}'
          f'{" (--smoke)" if args.smoke else ""}: {len(changes)} changes')
    for line in changes:
        print('  ' + line)
    print('  note   YOLOXModeSwitchHook: ours switches for exactly '
          'num_last_epochs epochs, mmdet\'s one epoch earlier (same '
          'num_last_epochs in both configs)')

    jobs = []
    for impl, seed in args.run_list:
        base = ours_cfg if impl == 'ours' else mmdet_cfg
        cfg = with_seed(base, seed)
        name = f'{impl}_seed{seed}'
        cfg_path = osp.join(work_dir, 'configs', f'{name}.py')
        text = dump_config(cfg, cfg_path)
        jobs.append((impl, seed, cfg_path, text, osp.join(work_dir, name)))
    print(f'configs written to {osp.join(work_dir, "configs")}')
    if args.derive_only:
        return 0

    lock = threading.Lock()

    def say(msg):
        with lock:
            print(time.strftime('%H:%M:%S'), msg, flush=True)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [
            pool.submit(run_one, impl, seed, cfg_path, text, run_dir,
                        args.threads, args.reuse, say)
            for impl, seed, cfg_path, text, run_dir in jobs
        ]
        results = [f.result() for f in futures]
    total = time.perf_counter() - t0
    return _write_table(args, work_dir, results, total)


def _write_table(args, work_dir: str, results: List[dict],
                 total: Optional[float]) -> int:
    header = (f'# yolox_mm vs mmdet 3.3.0: {args.config}\n\n'
              f'command: `{" ".join([sys.executable] + sys.argv)}`  \n')
    if total is not None:
        header += (f'threads per training: {args.threads}, trainings at a '
                   f'time: {args.jobs}, total wall {total / 60:.1f} min\n')
    header += '\n'
    table = make_table(results, args.noise_evals)
    print()
    print(table)
    md = osp.join(work_dir, 'side_by_side.md')
    Path(md).write_text(header + table)
    print(f'written to {md}')
    return 0 if all(r.get('ok') for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
