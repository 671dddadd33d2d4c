"""Megvii's official YOLOX (PyPI ``yolox-datamint==0.3.1``, a pure-Python
wheel of ``Megvii-BaseDetection/YOLOX`` 0.3.x) as a reference model.

``yolox.utils`` imports ``torchvision`` (only ``ops.nms`` and
``ops.batched_nms``, in ``postprocess``) and ``thop`` (only ``profile``, in
``get_model_info``), neither of which this project needs. If they are not
installed, :func:`import_megvii` puts minimal stand-ins into
``sys.modules`` for the import of ``yolox`` and removes them afterwards, so
that no other code (mmengine and mmdet probe ``import torchvision``) sees
them.

Installing the reference: ``pip install --no-deps yolox-datamint==0.3.1``
(plus ``loguru`` and ``tabulate``, which it imports).

SimOTA version of the wheel: **V1**: ``yolox/models/yolo_head.py``
``get_in_boxes_info`` takes priors whose
centre is inside a GT box *or* inside ``gt_ctr +- 2.5 * stride`` and the
cost adds ``100000.0 * ~(in_box & in_centre)``, as mmdet 3.3.0's
``SimOTAAssigner`` and Megvii's tag 0.3.0 (the code of the published
weights); it is not the centre-only 1.5-stride rule of Megvii's ``main``
since 2023-01.
"""
import contextlib
import importlib
import importlib.util
import sys
import types
from typing import Dict, List

import torch
from torch import Tensor, nn

MEGVII_VERSION = '0.3.1'


def _nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS with torchvision's semantics: ``[N, 4]`` xyxy boxes and
    ``[N]`` scores -> indices of the kept boxes (long), by decreasing score;
    a box is dropped when its IoU with a kept box is > ``iou_threshold``."""
    order = torch.sort(scores, descending=True, stable=True).indices
    boxes = boxes[order]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    x1, y1, x2, y2 = boxes.unbind(1)
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        w = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1)).clamp(min=0)
        h = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1)).clamp(min=0)
        inter = w * h
        iou = inter / (area[i] + area - inter)
        suppressed |= iou > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def _batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor,
                 iou_threshold: float) -> Tensor:
    """Class-aware NMS (torchvision ``batched_nms``): boxes of different
    ``idxs`` never suppress each other; kept indices by decreasing score."""
    keep = torch.cat([
        torch.nonzero(idxs == c)[:, 0][_nms(boxes[idxs == c],
                                            scores[idxs == c], iou_threshold)]
        for c in torch.unique(idxs)
    ]) if len(boxes) else torch.zeros(0, dtype=torch.long)
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


def _stand_in_modules() -> Dict[str, types.ModuleType]:
    torchvision = types.ModuleType('torchvision')
    torchvision.__path__ = []  # a package, so ``torchvision.ops`` imports
    ops = types.ModuleType('torchvision.ops')
    ops.nms = _nms
    ops.batched_nms = _batched_nms
    torchvision.ops = ops
    thop = types.ModuleType('thop')

    def profile(*args, **kwargs):
        raise NotImplementedError('thop stand-in of tests/test_parity')

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
    """Import Megvii's ``yolox`` package (models, utils, default exps).

    Returns:
        module: ``yolox``, with ``yolox.models``, ``yolox.utils`` and
        ``yolox.exp.default`` imported.

    Raises:
        ImportError: if yolox-datamint is not installed, or is another
            version than the one the parity tests were written against.
    """
    with _stand_ins():
        yolox = importlib.import_module('yolox')
        importlib.import_module('yolox.models')
        importlib.import_module('yolox.utils')
        importlib.import_module('yolox.exp')
    if yolox.__version__ != MEGVII_VERSION:
        raise ImportError(f'tests/test_parity expect yolox-datamint '
                          f'{MEGVII_VERSION}, found yolox '
                          f'{yolox.__version__}')
    return yolox


def build_megvii(scale: str, num_classes: int = 80) -> nn.Module:
    """Megvii's ``exps/default/yolox_{scale}.py`` model (BN eps 1e-3,
    momentum 0.03; cls/obj bias prior 0.01), in eval mode."""
    import_megvii()
    exp = importlib.import_module(f'yolox.exp.default.yolox_{scale}').Exp()
    exp.num_classes = num_classes
    return exp.get_model().eval()


class RawHeadOutputs:
    """Forward hooks on Megvii's ``head.{cls,reg,obj}_preds[level]``: after
    a forward, :attr:`outputs` holds ``(cls_scores, bbox_preds,
    objectnesses)``, lists of ``(B, K, H_l, W_l)`` raw logits per level (the
    layout of mmdet's and our ``YOLOXHead.forward``)."""

    def __init__(self, model: nn.Module) -> None:
        self.store: Dict[str, List[Tensor]] = {}
        self.handles = []
        head = model.head
        for name in ('cls_preds', 'reg_preds', 'obj_preds'):
            for level, conv in enumerate(getattr(head, name)):
                self.handles.append(conv.register_forward_hook(
                    self._hook(name, level)))

    def _hook(self, name: str, level: int):
        def hook(module, args, output):
            self.store.setdefault(name, {})[level] = output.detach().clone()
        return hook

    @property
    def outputs(self):
        return tuple([self.store[n][lvl] for lvl in sorted(self.store[n])]
                     for n in ('cls_preds', 'reg_preds', 'obj_preds'))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def megvii_postprocess(outputs: Tensor, num_classes: int, score_thr: float,
                       nms_thr: float) -> list:
    """Megvii ``yolox.utils.postprocess`` (class-aware NMS): per image
    ``[K, 7]`` ``(x1, y1, x2, y2, obj, cls_conf, label)`` or None."""
    from yolox.utils import postprocess
    return postprocess(outputs.clone(), num_classes, score_thr, nms_thr)
