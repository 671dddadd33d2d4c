"""Parameters and FLOPs of a detector, our own counter (no thop / fvcore).

FLOPs = 2 x the multiply-adds of every ``nn.Conv2d`` of one ``_forward``
(backbone, neck, head; no post-processing), the convention of Megvii's
``get_model_info`` (thop MACs x 2, ``yolox/utils/model_utils.py``). thop also
counts BatchNorm and activations, so Megvii's numbers are slightly higher:
YOLOX-DarkNet53 at 640 is 184.68 GFLOPs here, 185.3 in Megvii's README
(``../shared/PAPER_FAMILY.md`` section 2.3).
"""
from typing import Sequence, Tuple

import torch
from torch import Tensor, nn


def conv_flops(model: nn.Module, inputs: Tensor) -> int:
    """2 x multiply-adds of every ``nn.Conv2d`` in one ``model._forward``
    of ``inputs`` (``(B, 3, H, W)``), for the whole batch.

    Per convolution: ``2 * output.numel() * (in_channels / groups) * k_h *
    k_w`` (the bias add is not counted).
    """
    total = [0]

    def hook(module, args, output):
        kh, kw = module.kernel_size
        total[0] += 2 * output.numel() * (module.in_channels //
                                          module.groups) * kh * kw
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model._forward(inputs)
    finally:
        for h in handles:
            h.remove()
    return total[0]


def complexity(model: nn.Module,
               input_hw: Sequence[int] = (640, 640)) -> Tuple[int, float]:
    """``(parameters, GFLOPs)`` of ``model`` for one ``H x W`` image.

    Args:
        model (nn.Module): A detector with ``_forward`` (mmdet's
            ``BaseDetector``); put in eval mode.
        input_hw (Sequence[int]): ``(H, W)``, multiples of 32.

    Returns:
        tuple[int, float]: number of parameters and conv GFLOPs
        (:func:`conv_flops` / 1e9).

    Raises:
        ValueError: if H or W is not a positive multiple of 32.
    """
    height, width = (int(s) for s in input_hw)
    if height <= 0 or width <= 0 or height % 32 or width % 32:
        raise ValueError('input_hw must be positive multiples of 32, got '
                         f'{tuple(input_hw)}')
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    flops = conv_flops(model, torch.zeros(1, 3, height, width))
    return params, flops / 1e9
