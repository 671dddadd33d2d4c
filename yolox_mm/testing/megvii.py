"""Megvii's official YOLOX (PyPI ``yolox-datamint==0.3.1``, a pure-Python
wheel of ``Megvii-BaseDetection/YOLOX`` 0.3.x, import name ``yolox``) as a
reference model with our weights, for benchmarks.

``yolox.utils`` imports ``torchvision`` (only ``ops.nms`` and
``ops.batched_nms``, in ``postprocess``) and ``thop`` (only ``profile``).
When they are not installed, :func:`import_megvii` puts stand-ins into
``sys.modules`` for the import of ``yolox`` and removes them afterwards
(mmengine and mmdet probe ``import torchvision``; no other code sees them).
The NMS stand-in runs mmcv's compiled ``nms`` (the same greedy rule as
torchvision's: a box is dropped when its IoU with a kept box is
``> iou_threshold``; class-aware through torchvision's coordinate-offset
trick), so that a timing of Megvii's ``postprocess`` measures a compiled
NMS, as with torchvision.

Weights: :func:`megvii_state_dict_from_ours` renames a yolox_mm (or mmdet
3.x: same keys) state_dict into Megvii's names with the key map of
:mod:`yolox_mm.utils.megvii_checkpoint` (its inverse, over the keys of the
Megvii model). Batches: :func:`megvii_targets` turns mmdet
``DetDataSample`` GTs into Megvii's padded ``[B, max_labels, 5]`` targets.
Source: ``yolox/models/yolox.py``, ``yolo_head.py``, ``yolox/utils/
boxes.py`` of the wheel.
"""
import contextlib
import importlib
import importlib.util
import sys
import types
from collections import OrderedDict
from typing import Dict, List, Mapping, Sequence, Tuple

import torch
from torch import Tensor, nn

MEGVII_VERSION = '0.3.1'
INSTALL_HINT = ('pip install --no-deps yolox-datamint==0.3.1 loguru '
                'tabulate')


def megvii_available() -> bool:
    """Whether a ``yolox`` package can be imported."""
    return importlib.util.find_spec('yolox') is not None


def _batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor,
                 iou_threshold: float) -> Tensor:
    """torchvision's ``batched_nms`` on mmcv's compiled ``nms``: ``[N, 4]``
    xyxy boxes, ``[N]`` scores and class ``idxs`` -> kept indices (long)
    by decreasing score; boxes of different classes never suppress each
    other (each class is shifted by ``max coordinate + 1``)."""
    from mmcv.ops import nms
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    _, keep = nms(boxes + offsets[:, None], scores, iou_threshold)
    return keep


def _nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """torchvision's ``nms`` (one class) on mmcv's compiled ``nms``."""
    return _batched_nms(boxes, scores, torch.zeros_like(scores),
                        iou_threshold)


def _stand_in_modules() -> Dict[str, types.ModuleType]:
    torchvision = types.ModuleType('torchvision')
    torchvision.__path__ = []  # a package, so ``torchvision.ops`` imports
    ops = types.ModuleType('torchvision.ops')
    ops.nms, ops.batched_nms = _nms, _batched_nms
    torchvision.ops = ops
    thop = types.ModuleType('thop')

    def profile(*args, **kwargs):
        raise NotImplementedError('thop stand-in of yolox_mm.testing')

    thop.profile = profile
    return {'torchvision': torchvision, 'torchvision.ops': ops,
            'thop': thop}


@contextlib.contextmanager
def _stand_ins():
    added = {}
    missing = {root for root in ('torchvision', 'thop')
               if root not in sys.modules
               and importlib.util.find_spec(root) is None}
    for name, module in _stand_in_modules().items():
        if name.split('.')[0] in missing:
            sys.modules[name] = added[name] = module
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def import_megvii() -> types.ModuleType:
    """Import Megvii's ``yolox`` (models, utils, data, default exps).

    Raises:
        ImportError: if yolox-datamint is not installed (with the install
            command), or is another version than :data:`MEGVII_VERSION`.
    """
    if not megvii_available():
        raise ImportError('Megvii YOLOX (import name yolox) is not '
                          f'installed; expected yolox-datamint '
                          f'{MEGVII_VERSION}: {INSTALL_HINT}')
    with _stand_ins():
        yolox = importlib.import_module('yolox')
        for sub in ('models', 'utils', 'exp', 'data'):
            importlib.import_module(f'yolox.{sub}')
    if yolox.__version__ != MEGVII_VERSION:
        raise ImportError(f'expected yolox-datamint {MEGVII_VERSION}, found '
                          f'yolox {yolox.__version__}')
    return yolox


def megvii_version() -> str:
    """The version of the imported ``yolox`` (see :func:`import_megvii`)."""
    return import_megvii().__version__


def build_megvii(scale: str, num_classes: int = 80) -> nn.Module:
    """Megvii's ``exps/default/yolox_{scale}.py`` model (BN eps 1e-3,
    momentum 0.03; cls/obj bias prior 0.01), in eval mode.

    Raises:
        ValueError: for a scale without a Megvii default exp.
    """
    import_megvii()
    scales = ('nano', 'tiny', 's', 'm', 'l', 'x')
    if scale not in scales:
        raise ValueError(f'scale must be one of {scales}, got {scale!r}')
    exp = importlib.import_module(f'yolox.exp.default.yolox_{scale}').Exp()
    exp.num_classes = num_classes
    return exp.get_model().eval()


def megvii_state_dict_from_ours(megvii_model: nn.Module,
                                state_dict: Mapping[str, Tensor]
                                ) -> 'OrderedDict[str, Tensor]':
    """A yolox_mm / mmdet 3.x ``state_dict`` under Megvii's key names
    (``convert_key`` of :mod:`yolox_mm.utils.megvii_checkpoint` applied to
    each key of ``megvii_model``; tensors shared, not copied).

    Raises:
        ValueError: if ``state_dict`` lacks keys the Megvii model needs, or
            holds keys it has no place for (listing the first ones).
    """
    from yolox_mm.utils.megvii_checkpoint import convert_key
    names = {convert_key(key): key for key in megvii_model.state_dict()}
    missing = [k for k in names if k not in state_dict]
    extra = [k for k in state_dict if k not in names]
    if missing or extra:
        raise ValueError(f'state_dict does not match the Megvii model: '
                         f'missing {missing[:5]}, unexpected {extra[:5]}')
    return OrderedDict((names[k], state_dict[k]) for k in names)


def load_ours_into_megvii(megvii_model: nn.Module,
                          state_dict: Mapping[str, Tensor]) -> nn.Module:
    """Load a yolox_mm / mmdet state_dict into ``megvii_model`` (strict);
    see :func:`megvii_state_dict_from_ours`. Returns the model."""
    megvii_model.load_state_dict(
        megvii_state_dict_from_ours(megvii_model, state_dict), strict=True)
    return megvii_model


def megvii_targets(data_samples: Sequence, max_labels: int) -> Tensor:
    """Megvii's training targets from mmdet data samples: ``[B,
    max_labels, 5]`` float32 rows ``(class, cx, cy, w, h)`` in input
    pixels, zero-padded (as ``TrainTransform`` gives them; Megvii counts
    the non-zero rows as GTs).

    Raises:
        ValueError: if an image has more than ``max_labels`` GTs.
    """
    targets = torch.zeros(len(data_samples), max_labels, 5)
    for i, sample in enumerate(data_samples):
        boxes = sample.gt_instances.bboxes
        boxes = getattr(boxes, 'tensor', boxes).float()
        if len(boxes) > max_labels:
            raise ValueError(f'image {i} has {len(boxes)} GTs, more than '
                             f'max_labels={max_labels}')
        num = len(boxes)
        targets[i, :num, 0] = sample.gt_instances.labels.float()
        targets[i, :num, 1:3] = (boxes[:, :2] + boxes[:, 2:]) / 2
        targets[i, :num, 3:5] = boxes[:, 2:] - boxes[:, :2]
    return targets


@torch.no_grad()
def megvii_head_outputs(model: nn.Module, inputs: Tensor
                        ) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
    """Raw ``(cls_scores, bbox_preds, objectnesses)`` of a Megvii model in
    eval mode: per level ``(B, K, H_l, W_l)`` logits (the layout of our
    ``YOLOXHead.forward``), read by forward hooks on ``head.cls_preds``,
    ``reg_preds`` and ``obj_preds`` during one forward of ``inputs``."""
    store: Dict[str, Dict[int, Tensor]] = {}
    handles = []
    for name in ('cls_preds', 'reg_preds', 'obj_preds'):
        for level, conv in enumerate(getattr(model.head, name)):
            def hook(module, args, output, name=name, level=level):
                store.setdefault(name, {})[level] = output.detach().clone()
            handles.append(conv.register_forward_hook(hook))
    try:
        model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return tuple([store[n][lvl] for lvl in sorted(store[n])]
                 for n in ('cls_preds', 'reg_preds', 'obj_preds'))
