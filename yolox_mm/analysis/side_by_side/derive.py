"""The config of mmdet 3.3.0's YOLOX, derived by code from ours
(:func:`derive_mmdet_config`), never copied by hand.

The derivation maps our registered components to mmdet's
(:data:`TYPE_MAP`), renames or drops the arguments mmdet's classes do not
take (:data:`RENAME_ARGS`), drops our components mmdet has no equivalent
of (:data:`DROP_TYPES`), sets ``default_scope='mmdet'`` and removes the
``yolox_mm`` import; it reports every change. If a yolox_mm-only type is
left, it raises :class:`YoloxMMOnlyTypeError`, which names the type.

Use unprefixed type names in the mmdet config, as :data:`TYPE_MAP` does.
``type='mmdet.Mosaic'`` builds the same class, but mmdet's
``MultiImageMixDataset`` then no longer turns Mosaic off in the last
epochs; :func:`check_skip_types` refuses such a config.
"""
import inspect
from typing import Any, Dict, List, Tuple

from .config_walk import DROP, plain_copy, walk

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
    # mmengine's CheckpointHook, writing through a temporary file + rename
    # (same checkpoints, crash-safe)
    'AtomicCheckpointHook': 'CheckpointHook',
    # mmengine's pseudo_collate whose batch, in a DataLoader worker, lies in
    # one shared-memory buffer per dtype (same values; fewer descriptors)
    'shared_pseudo_collate': 'pseudo_collate',
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
    'ChannelsLastHook':
    'yolox_mm only: trains with NHWC weights (speed); the same model, '
    'results differ from NCHW by float rounding only',
}
# Arguments that mmdet spells differently: (our type, our arg) -> mmdet arg.
RENAME_ARGS = {
    ('CSPDarknet', 'spp_kernel_sizes'): 'spp_kernal_sizes',
}
# Config keys whose ``type`` names an mmcv op, not a registry entry.
NON_REGISTRY_TYPE_KEYS = ('nms', )


class YoloxMMOnlyTypeError(ValueError):
    """A yolox_mm-only component is left in the derived mmdet config."""


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
    """The registries an mmdet run looks types up in: mmdet's, and
    mmengine's ``FUNCTIONS`` (mmdet has none of its own; ``Runner`` looks
    ``collate_fn`` up there)."""
    from mmdet import registry as m
    from mmengine.registry import FUNCTIONS
    return [
        m.MODELS, m.TASK_UTILS, m.TRANSFORMS, m.HOOKS, m.DATASETS,
        m.DATA_SAMPLERS, m.PARAM_SCHEDULERS, m.OPTIMIZERS, m.OPTIM_WRAPPERS,
        m.OPTIM_WRAPPER_CONSTRUCTORS, m.METRICS, m.EVALUATOR, m.VISUALIZERS,
        m.VISBACKENDS, m.LOG_PROCESSORS, m.LOOPS, m.RUNNERS,
        m.WEIGHT_INITIALIZERS, m.MODEL_WRAPPERS, FUNCTIONS
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
    """Names of ``cls.__init__``'s parameters (of ``cls`` itself for a
    registered function) and whether it takes ``**kwargs``."""
    target = cls.__init__ if isinstance(cls, type) else cls
    params = inspect.signature(target).parameters.values()
    names = {p.name for p in params} - {'self'}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return names, var_kw


def _map_types(ours: Dict[str, str], changes: List[str]):
    """The visit of :func:`walk` that maps each component to mmdet's."""
    def visit(path: str, node: dict):
        t = node.get('type')
        if isinstance(t, str) and not path.endswith(NON_REGISTRY_TYPE_KEYS):
            return _map_component(node, t, path, ours, changes)
        return node
    return visit


def _map_component(node: dict, t: str, path: str, ours: Dict[str, str],
                   changes: List[str]):
    scope, _, name = t.rpartition('.')
    if scope not in ('', 'yolox_mm'):
        return node  # explicitly another package's (mmdet., mmengine. ...)
    if name in DROP_TYPES:
        changes.append(f'drop   {path}: {t} ({DROP_TYPES[name]})')
        return DROP
    if name in TYPE_MAP:
        new_type = TYPE_MAP[name]
        cls = resolve_in_mmdet(new_type)
        if cls is None or not cls.__module__.startswith(
                ('mmdet.', 'mmcv.', 'mmengine.')):
            raise YoloxMMOnlyTypeError(
                f'{path}: {new_type!r} (for our {t}) does not resolve to an '
                f'mmdet/mmcv/mmengine class in mmdet\'s registries (got '
                f'{cls})')
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
            'yolox_mm/analysis/side_by_side/derive.py)')
    return node


def model_activations(cfg: dict) -> List[str]:
    """The ``act_cfg`` types of ``cfg['model']``, sorted, each once."""
    acts = set()

    def visit(path: str, node: dict) -> dict:
        act = node.get('act_cfg')
        if isinstance(act, dict) and isinstance(act.get('type'), str):
            acts.add(act['type'])
        return node

    walk(cfg.get('model', {}), visit)
    return sorted(acts)


def check_activations(cfg: dict, changes: List[str]) -> None:
    """Report the activations of the model and check that they build in
    mmdet's scope (mmcv registers torch's activations in mmengine's root
    MODELS, the parent of mmdet's)."""
    for act in model_activations(cfg):
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

    def visit(path: str, node: dict) -> dict:
        for key in ('type', 'ema_type'):
            t = node.get(key)
            if isinstance(t, str) and \
                    not path.endswith(NON_REGISTRY_TYPE_KEYS):
                cls = resolve_in_mmdet(t)
                if cls is None or cls.__module__.startswith('yolox_mm'):
                    bad.append((f'{path}.{key}', t))
        return node

    walk(cfg, visit)
    return bad


def _set_scope_and_imports(d: dict, changes: List[str]) -> None:
    """``default_scope='mmdet'``, and no ``yolox_mm`` custom import."""
    scope = d.get('default_scope')
    if scope != 'mmdet':
        changes.append(f'set    default_scope: {scope!r} -> \'mmdet\'')
    d['default_scope'] = 'mmdet'
    imports = d.get('custom_imports')
    if not imports:
        return
    mods = list(imports.get('imports', []))
    kept = [m for m in mods if not m.split('.')[0] == 'yolox_mm']
    if kept == mods:
        return
    if kept:
        d['custom_imports'] = dict(imports, imports=kept)
        changes.append(f'set    custom_imports.imports: {mods} -> {kept}')
    else:
        del d['custom_imports']
        changes.append(f'drop   custom_imports (imports={mods})')


def derive_mmdet_config(cfg) -> Tuple[Any, List[str]]:
    """Derive the config of mmdet 3.3.0's YOLOX from our config.

    Args:
        cfg (mmengine.Config | dict): Our config (bases merged); not
            modified.

    Returns:
        (Config, list[str]): The mmdet config and one line per change made
        (``map``, ``rename``, ``drop``, ``set``) or checked (``keep``).

    Raises:
        YoloxMMOnlyTypeError: A yolox_mm-only type is left, or a type does
            not resolve in mmdet's registries.
    """
    from mmengine.config import Config

    d = plain_copy(cfg.to_dict() if isinstance(cfg, Config) else cfg)
    changes: List[str] = []
    _set_scope_and_imports(d, changes)
    d = walk(d, _map_types(our_registered_types(), changes))
    check_activations(d, changes)
    check_skip_types(d)
    bad = unresolved_types(d)
    if bad:
        raise YoloxMMOnlyTypeError(
            'types that do not resolve to mmdet components: ' +
            ', '.join(f'{p}={t!r}' for p, t in bad))
    return Config(d), changes
