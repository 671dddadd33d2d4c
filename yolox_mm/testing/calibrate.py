"""Random YOLOX weights that give plausible outputs.

A randomly initialised YOLOX predicts nothing useful: its activations
shrink or grow through ~100 layers, its boxes are infinite or empty and all
its scores are equal. These functions, used by the tests and the
benchmarks, set BatchNorm statistics from a calibration batch (activations
of order 1) and rescale the head's prediction layers.

All of them work in place on an mmdet-style detector (``extract_feat``,
``_forward``, ``bbox_head`` with ``multi_level_conv_{cls,reg,obj}``), ours
or mmdet's; ``inputs`` is a preprocessed ``(B, 3, H, W)`` float batch.
"""
import math

import torch
from torch import Tensor, nn


def reset_bn_statistics(model: nn.Module, inputs: Tensor) -> None:
    """BN running statistics := statistics of one forward of ``inputs``
    (cumulative average of one batch), so activations stay of order 1."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        model._forward(inputs)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    model.eval()


def normalise_head_outputs(model: nn.Module, inputs: Tensor) -> None:
    """Rescale the head's 1x1 prediction convs so that, on ``inputs``, each
    output channel has a plausible mean and spread (random weights give
    regression outputs of hundreds, i.e. infinite boxes): class logits
    ``N(-2, 1.5)``, ``t_xy`` ``N(0.5, 0.3)``, ``t_wh`` ``N(1, 0.5)`` (boxes of
    ~2.7 strides), objectness ``N(-4, 1.5)``."""
    head = model.bbox_head
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        cls, reg, obj = head(feats)
        targets = ((head.multi_level_conv_cls, cls, [(-2.0, 1.5)]),
                   (head.multi_level_conv_reg, reg,
                    [(0.5, 0.3)] * 2 + [(1.0, 0.5)] * 2),
                   (head.multi_level_conv_obj, obj, [(-4.0, 1.5)]))
        for convs, outs, stats in targets:
            for conv, out in zip(convs, outs):
                mean = out.mean(dim=(0, 2, 3))
                std = out.std(dim=(0, 2, 3)).clamp(min=1e-6)
                mu = torch.tensor([m for m, _ in stats]).expand_as(mean)
                sigma = torch.tensor([s for _, s in stats]).expand_as(mean)
                scale = sigma / std
                conv.weight.mul_(scale[:, None, None, None])
                conv.bias.copy_(mu + (conv.bias - mean) * scale)


def calibrate_objectness(model: nn.Module, inputs: Tensor, fraction: float,
                         score_thr: float) -> int:
    """Shift the objectness biases so that ``fraction`` of the priors score
    ``max_c sigmoid(cls) * sigmoid(obj) >= score_thr``, with the threshold
    half-way (in logit) between two priors so that rounding differences do
    not change the count. Returns the count."""
    with torch.no_grad():
        cls, _, obj = model.bbox_head(model.extract_feat(inputs))
    cls = torch.cat([c.flatten(2) for c in cls], 2).sigmoid().amax(1)[0]
    obj = torch.cat([o.flatten(2) for o in obj], 2)[0, 0].double()
    # shift needed by each prior: sigmoid(obj + d) >= thr / cls
    need = (score_thr / cls.double()).clamp(max=1.0)
    shift = torch.where(need < 1, torch.logit(need) - obj, math.inf)
    shift = shift.sort().values
    k = max(1, int(fraction * obj.numel()))
    delta = float((shift[k - 1] + shift[k]) / 2) if math.isfinite(
        shift[k]) else float(shift[k - 1]) + 0.1
    with torch.no_grad():
        for conv in model.bbox_head.multi_level_conv_obj:
            conv.bias += delta
    return int((cls * (obj + delta).sigmoid() >= score_thr).sum())



@torch.no_grad()
def randomise(model: nn.Module, inputs: Tensor, seed: int,
              forward=None) -> nn.Module:
    """Random weights with realistic activations, in place; eval mode.

    1. BN affine parameters random (``gamma ~ U(0.5, 1.5)``, ``beta ~
       N(0, 0.3)``);
    2. BN running statistics from one eval-mode forward of ``inputs``: each
       BN layer, when reached, sets its statistics to those of its actual
       input perturbed (``mean += 0.2 * std * N(0, 1)``, ``var *= U(0.7,
       1.4)``) and normalises with them, so every statistic matters and
       activations stay of order 1 through the whole network (perturbing
       after a train-mode pass would compound over ~100 layers into huge
       logits);
    3. ``num_batches_tracked`` random.

    Args:
        model (nn.Module): Any of the three models.
        inputs (Tensor): ``(B, 3, H, W)`` calibration batch.
        seed (int): Seed of the random parameters.
        forward (callable, optional): ``forward(model, inputs)``; defaults
            to ``model(inputs)``.
    """
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.weight.copy_(torch.rand(bn.weight.shape, generator=gen) + 0.5)
        bn.bias.copy_(torch.randn(bn.bias.shape, generator=gen) * 0.3)
        bn.num_batches_tracked.fill_(int(torch.randint(
            1, 10**6, (), generator=gen)))

    def calibrating_forward(bn: nn.BatchNorm2d):
        def forward_(x: Tensor) -> Tensor:
            mean = x.mean(dim=(0, 2, 3))
            var = x.var(dim=(0, 2, 3))
            bn.running_mean.copy_(
                mean + 0.2 * var.sqrt() * torch.randn(mean.shape,
                                                      generator=gen))
            bn.running_var.copy_(
                var * (0.7 + 0.7 * torch.rand(var.shape, generator=gen)))
            return nn.functional.batch_norm(x, bn.running_mean,
                                            bn.running_var, bn.weight,
                                            bn.bias, False, 0.0, bn.eps)
        return forward_

    model.eval()
    for bn in bns:
        bn.forward = calibrating_forward(bn)
    try:
        (forward or (lambda m, x: m(x)))(model, inputs)
    finally:
        for bn in bns:
            del bn.forward  # back to the class method
    return model
