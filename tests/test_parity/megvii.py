"""Megvii's official YOLOX (PyPI ``yolox-datamint==0.3.1``, a pure-Python
wheel of ``Megvii-BaseDetection/YOLOX`` 0.3.x) as a reference model.

Importing it (``yolox.utils`` needs ``torchvision.ops`` and ``thop``, which
this project does not install) and building its default exps is
:mod:`yolox_mm.testing.megvii`'s job, shared with the benchmark: while
``yolox`` is imported, stand-ins of the two packages sit in
``sys.modules`` (torchvision's ``nms``/``batched_nms`` on mmcv's compiled
``nms``) and are removed afterwards. This module adds what only the parity
tests need: hooks on Megvii's raw head outputs and its ``postprocess``.

SimOTA version of the wheel: **V1**: ``yolox/models/yolo_head.py``
``get_in_boxes_info`` takes priors whose
centre is inside a GT box *or* inside ``gt_ctr +- 2.5 * stride`` and the
cost adds ``100000.0 * ~(in_box & in_centre)``, as mmdet 3.3.0's
``SimOTAAssigner`` and Megvii's tag 0.3.0 (the code of the published
weights); it is not the centre-only 1.5-stride rule of Megvii's ``main``
since 2023-01.
"""
from typing import Dict, List

from torch import Tensor, nn

from yolox_mm.testing.megvii import (MEGVII_VERSION, build_megvii,
                                     import_megvii)

__all__ = ['MEGVII_VERSION', 'RawHeadOutputs', 'build_megvii',
           'import_megvii', 'megvii_postprocess']


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
