"""Reference models: the same YOLOX built from our configs (``yolox_mm``
scope) or from mmdet 3.3.0's (``mmdet`` scope), for parity tests and
benchmarks.

Our configs are read from the ``configs/`` folder of the source checkout
(:data:`OUR_CONFIGS`; the package does not ship them), mmdet's from its
installed ``.mim/configs/yolox`` (:data:`MMDET_CONFIGS`).

Scales: ``nano``, ``tiny``, ``s``, ``m``, ``l``, ``x`` (Megvii's
``exps/default/yolox_*.py``, mmdet's and our ``configs/yolox_*_8xb8-300e_
coco.py``).
"""
import os.path as osp
from pathlib import Path

import mmdet
from mmengine import DefaultScope
from mmengine.config import Config
from torch import nn

OUR_CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
MMDET_CONFIGS = Path(osp.dirname(mmdet.__file__)) / '.mim/configs/yolox'
SCALES = ('nano', 'tiny', 's', 'm', 'l', 'x')
#: Scales only we have (mmdet has no YOLOX-DarkNet53).
OUR_SCALES = SCALES + ('darknet53', )
IMPLS = ('ours', 'mmdet')


def _check_impl(impl: str) -> None:
    if impl not in IMPLS:
        raise ValueError(f'impl must be one of {IMPLS}, got {impl!r}')


def _registry(impl: str):
    """``(MODELS, scope)`` of ``impl``, with its modules registered."""
    _check_impl(impl)
    if impl == 'ours':
        import yolox_mm  # noqa: F401  (registration)
        from yolox_mm.registry import MODELS
        return MODELS, 'yolox_mm'
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return MODELS, 'mmdet'


def coco_config(impl: str, scale: str) -> Config:
    """``yolox_{scale}_8xb8-300e_coco.py`` of ``impl`` (``'ours'`` or
    ``'mmdet'``).

    Raises:
        ValueError: for an unknown ``impl`` or ``scale``.
        FileNotFoundError: if our ``configs/`` is not there (an installed
            package without its source checkout).
    """
    _check_impl(impl)
    known = OUR_SCALES if impl == 'ours' else SCALES
    if scale not in known:
        raise ValueError(f'scale must be one of {known} for {impl}, got '
                         f'{scale!r}')
    root = OUR_CONFIGS if impl == 'ours' else MMDET_CONFIGS
    path = root / f'yolox_{scale}_8xb8-300e_coco.py'
    if not path.is_file():
        raise FileNotFoundError(f'expected the config {path}; it is missing '
                                '(our configs live in the source checkout)')
    return Config.fromfile(path)


def build_detector(impl: str, scale: str,
                   batch_augments: bool = True) -> nn.Module:
    """The YOLOX detector of :func:`coco_config`, eval mode, PyTorch's
    default initialisation (``init_weights`` is not called: it logs every
    parameter, and the callers set the weights).

    Args:
        impl (str): ``'ours'`` or ``'mmdet'``.
        scale (str): One of :data:`SCALES` (or ``'darknet53'`` for ours).
        batch_augments (bool): Keep the data preprocessor's batch random
            resize; False sets ``batch_augments=None``.
    """
    models, scope = _registry(impl)
    cfg = coco_config(impl, scale).model
    if not batch_augments:
        cfg.data_preprocessor.batch_augments = None
    with DefaultScope.overwrite_default_scope(scope):
        model = models.build(cfg)
    return model.eval()


def build_head(impl: str, num_classes: int, in_channels: int = 128,
               use_l1: bool = False) -> nn.Module:
    """A stand-alone ``YOLOXHead`` (ours or mmdet's) with the configs'
    losses, SimOTA (``center_radius=2.5``) and ``feat_channels =
    in_channels``.

    Args:
        impl (str): ``'ours'`` or ``'mmdet'``.
        num_classes (int): Classes ``C``.
        in_channels (int): Channels of each input level.
        use_l1 (bool): The L1 loss of the last epochs on.
    """
    cfg = dict(type='YOLOXHead', num_classes=num_classes,
               in_channels=in_channels, feat_channels=in_channels,
               train_cfg=dict(assigner=dict(type='SimOTAAssigner',
                                            center_radius=2.5)),
               test_cfg=dict(score_thr=0.01,
                             nms=dict(type='nms', iou_threshold=0.65)))
    models, scope = _registry(impl)
    with DefaultScope.overwrite_default_scope(scope):
        head = models.build(cfg)
    if impl == 'ours':
        head.set_l1(use_l1)
    else:
        head.use_l1 = use_l1  # mmdet's head has the attribute only
    return head
