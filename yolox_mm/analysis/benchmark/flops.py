"""Counted FLOPs of a model and the measured fp32 peak of this CPU."""
import math
import time

import torch
from torch import Tensor, nn


def conv_flops(model: nn.Module, inputs: Tensor) -> int:
    """FLOPs of every ``nn.Conv2d`` in one ``model._forward(inputs)``: 2 x
    multiply-adds (``2 * out.numel() * in_channels / groups * kh * kw``),
    bias and everything else not counted."""
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


def matmul_peak(n: int, repeats: int = 5) -> float:
    """Best fp32 FLOP/s of an ``n x n`` ``torch.mm`` (2 n^3 FLOPs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best
