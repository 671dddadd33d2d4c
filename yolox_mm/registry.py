"""Registry nodes of yolox_mm.

Every node is a child of the matching mmdet node, with scope ``yolox_mm``:

* under ``default_scope='yolox_mm'`` an unprefixed ``type`` is looked up in
  yolox_mm first and then in mmdet and mmengine (the parent chain), so our
  configs name mmdet's components (``CocoDataset``, ``IoULoss``,
  ``RandomAffine``, ``EMAHook`` ...) without prefixes;
* from another mmdet project (``default_scope='mmdet'``) our classes are
  reached with the ``yolox_mm.`` prefix (``type='yolox_mm.YOLOXHead'``) or
  ``_scope_='yolox_mm'``; an unprefixed ``YOLOXHead`` there stays mmdet's.

``locations`` lets mmengine import the modules lazily the first time a node is
searched, so ``type='yolox_mm.X'`` works even without ``custom_imports``.
Lookup rules: mmengine 0.10.7 ``mmengine/registry/registry.py``
(``Registry.get``: an unprefixed name is searched in the node, then in its
ancestors, never in siblings or children; ``Registry.build`` first switches
to the node of the current default scope, ``switch_scope_and_registry``);
checked in ``tests/test_registry.py``.
"""
from mmdet import registry as mmdet_registry
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry

_SCOPE = 'yolox_mm'



def _node(name: str, parent: Registry, ours=()) -> Registry:
    """A child of an mmdet node. ``locations`` lists our modules (if any)
    and then mmdet's, because a lookup that falls through to the parent does
    not trigger the parent's lazy import."""
    return Registry(name, parent=parent, scope=_SCOPE,
                    locations=list(ours) + list(parent._locations))


# Nodes with our modules in ``locations`` hold our components; the others
# are pass-through nodes, so that under ``default_scope='yolox_mm'`` every
# kind of component (runners, samplers, metrics, visualizers, ...) resolves
# through mmdet's registries instead of stopping at mmengine's root.
RUNNERS = _node('runner', mmdet_registry.RUNNERS)
RUNNER_CONSTRUCTORS = _node('runner constructor', mmdet_registry.RUNNER_CONSTRUCTORS)
LOOPS = _node('loop', mmdet_registry.LOOPS)
HOOKS = _node('hook', mmdet_registry.HOOKS, ['yolox_mm.engine'])
DATASETS = _node('dataset', mmdet_registry.DATASETS, ['yolox_mm.datasets'])
DATA_SAMPLERS = _node('data sampler', mmdet_registry.DATA_SAMPLERS)
TRANSFORMS = _node('transform', mmdet_registry.TRANSFORMS, ['yolox_mm.datasets'])
MODELS = _node('model', mmdet_registry.MODELS, ['yolox_mm.models'])
MODEL_WRAPPERS = _node('model_wrapper', mmdet_registry.MODEL_WRAPPERS,
                       ['yolox_mm.engine'])
WEIGHT_INITIALIZERS = _node('weight initializer', mmdet_registry.WEIGHT_INITIALIZERS)
OPTIMIZERS = _node('optimizer', mmdet_registry.OPTIMIZERS)
OPTIM_WRAPPERS = _node('optim_wrapper', mmdet_registry.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _node('optimizer constructor', mmdet_registry.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _node('parameter scheduler', mmdet_registry.PARAM_SCHEDULERS)
METRICS = _node('metric', mmdet_registry.METRICS, ['yolox_mm.evaluation'])
EVALUATOR = _node('evaluator', mmdet_registry.EVALUATOR)
TASK_UTILS = _node('task util', mmdet_registry.TASK_UTILS, ['yolox_mm.models'])
VISUALIZERS = _node('visualizer', mmdet_registry.VISUALIZERS)
VISBACKENDS = _node('vis_backend', mmdet_registry.VISBACKENDS)
LOG_PROCESSORS = _node('log_processor', mmdet_registry.LOG_PROCESSORS)
# mmdet has no 'function' node (collate functions); without ours mmengine
# warns that scope 'yolox_mm' has none before using its own.
FUNCTIONS = _node('function', MMENGINE_FUNCTIONS)
