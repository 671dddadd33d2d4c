"""The Megvii column of sections c, d and e: whether it runs, and Megvii's
training step and inference call on our weights.

Megvii = yolox-datamint 0.3.1 (``yolox``; :mod:`yolox_mm.testing.megvii`).
Training step (``yolox/core/trainer.py`` ``train_one_iter`` without AMP
and EMA): ``YOLOX(inputs, targets)`` = YOLOPAFPN + YOLOXHead forward with
its ``get_losses`` -> ``total_loss.backward()`` -> SGD step. Inference
(``yolox/tools/demo.py`` ``Predictor.inference``): forward (decoded
``[B, P, 5 + C]``) + ``yolox.utils.postprocess`` (score threshold,
class-aware NMS).
"""
from typing import Callable, Dict

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from yolox_mm.testing.megvii import (INSTALL_HINT, megvii_available,
                                     megvii_targets)
from .sizes import Options

#: Our loss names -> Megvii's (``yolox/models/yolox.py`` outputs; its
#: ``iou_loss`` already carries the 5.0 weight, as our ``loss_bbox``).
LOSS_NAMES = {'loss': 'total_loss', 'loss_bbox': 'iou_loss',
              'loss_obj': 'conf_loss', 'loss_cls': 'cls_loss'}
#: GT rows of Megvii's padded targets (``yolox_base.py``: 120).
MAX_LABELS = 120


def use_megvii(opts: Options) -> bool:
    """Whether the Megvii column is measured: ``opts.megvii``.

    Raises:
        ImportError: if it is asked for and ``yolox`` is not installed
            (naming the install command and ``--no-megvii``).
    """
    if opts.megvii and not megvii_available():
        raise ImportError('the Megvii column needs yolox-datamint 0.3.1 '
                          f'({INSTALL_HINT}); or pass --no-megvii')
    return opts.megvii


def megvii_train_step(model: nn.Module, data: dict
                      ) -> Callable[[], Dict[str, Tensor]]:
    """A call of one Megvii training iteration on the collated batch
    ``data`` (``inputs``: uint8 ``(3, H, W)`` BGR per image, ``data_samples``
    with GTs), with its own SGD optimiser (lr 0.01, momentum 0.9, Nesterov,
    weight decay 5e-4 on every parameter, as section d's ours). The call
    stacks the images to float (what our data preprocessor does), zeroes
    the gradients, runs the forward with ``get_losses``, the backward and
    the step; it returns the loss dict in our names (:data:`LOSS_NAMES`)."""
    num = max(len(s.gt_instances) for s in data['data_samples'])
    targets = megvii_targets(data['data_samples'], max(MAX_LABELS, num))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                                nesterov=True, weight_decay=5e-4)
    model.train()

    def step() -> Dict[str, Tensor]:
        inputs = torch.stack(data['inputs']).float()
        optimizer.zero_grad()
        outputs = model(inputs, targets)
        outputs['total_loss'].backward()
        optimizer.step()
        return {ours: outputs[theirs].detach()
                for ours, theirs in LOSS_NAMES.items()}
    return step


def megvii_predict(model: nn.Module, inputs: Tensor, score_thr: float,
                   nms_thr: float) -> InstanceData:
    """Megvii's inference of one preprocessed image ``[1, 3, H, W]``
    (eval mode): forward + ``postprocess``; detections as
    ``InstanceData(bboxes [K, 4] xyxy input pixels, scores = obj x cls,
    labels)``."""
    from yolox.utils import postprocess
    outputs = model(inputs)
    det = postprocess(outputs, model.head.num_classes, score_thr,
                      nms_thr)[0]
    if det is None:
        det = outputs.new_zeros((0, 7))
    return InstanceData(bboxes=det[:, :4], scores=det[:, 4] * det[:, 5],
                        labels=det[:, 6].long())
