"""Train only some modules of a model: the others are frozen (no gradient)
and kept in eval mode (their BatchNorm statistics do not move).

Used to train the positive-sample selector of
:class:`~yolox_mm.models.dense_heads.YOLOXPSSHead` alone on a trained YOLOX
(PSS's "two-step" training: Zhou et al., arXiv 2101.11782; docs/end_to_end.md).
"""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from yolox_mm.registry import HOOKS


def _under(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + '.') for p in prefixes)


def freeze_except(model: nn.Module, trainable: Sequence[str]) -> int:
    """Freeze every parameter whose name is not under one of the
    ``trainable`` module prefixes and put those modules in eval mode.

    Args:
        model (nn.Module): e.g. a detector.
        trainable (Sequence[str]): module names, e.g.
            ``('bbox_head.multi_level_pss_convs',
            'bbox_head.multi_level_conv_pss')``.

    Returns:
        int: the number of trainable parameters left.

    Raises:
        ValueError: if no parameter is under ``trainable``.
    """
    left = 0
    for name, param in model.named_parameters():
        keep = _under(name, trainable)
        param.requires_grad_(keep)
        left += param.numel() if keep else 0
    if left == 0:
        raise ValueError(f'no parameter of the model is under {trainable!r}')
    for name, module in model.named_modules():
        # modules outside the trainable subtrees and not their ancestors:
        # eval (BN statistics frozen)
        if name and not _under(name, trainable) and not any(
                _under(p, [name]) for p in trainable):
            module.eval()
    return left


@HOOKS.register_module()
class FreezeExceptHook(Hook):
    """Train only ``trainable`` (module name prefixes); see
    :func:`freeze_except`. Applied before training and again before every
    iteration (the train loop calls ``model.train()`` every epoch).

    Args:
        trainable (Sequence[str]): module names of the model to train.
            Defaults to the selector of ``YOLOXPSSHead``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, trainable: Sequence[str] = (
            'bbox_head.multi_level_pss_convs',
            'bbox_head.multi_level_conv_pss')) -> None:
        self.trainable = tuple(trainable)

    def _model(self, runner) -> nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        left = freeze_except(self._model(runner), self.trainable)
        runner.logger.info(f'FreezeExceptHook: {left} trainable parameters '
                           f'(under {self.trainable})')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        freeze_except(self._model(runner), self.trainable)
