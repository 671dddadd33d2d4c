"""Shared helpers of the parity tests: build our model, mmdet 3.3.0's model
and Megvii's model at a scale, copy weights between them, randomise BN
statistics, make inputs, compare detections.

Scales: ``nano``, ``tiny``, ``s``, ``m``, ``l``, ``x`` (Megvii's
``exps/default/yolox_*.py``, mmdet's and our ``configs/yolox_*_8xb8-300e_
coco.py``).
"""
import importlib.util
import os.path as osp
from pathlib import Path
from typing import List, Sequence, Tuple

import mmdet
import torch
from mmengine import DefaultScope
from mmengine.config import Config
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[2]
SCALES = ('nano', 'tiny', 's', 'm', 'l', 'x')
MMDET_CONFIGS = Path(osp.dirname(mmdet.__file__)) / '.mim/configs/yolox'


def load_converter():
    """``tools/model_converters/yolox_to_yolox_mm.py`` as a module."""
    path = REPO / 'tools' / 'model_converters' / 'yolox_to_yolox_mm.py'
    spec = importlib.util.spec_from_file_location('yolox_to_yolox_mm', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ours_config(scale: str) -> Config:
    return Config.fromfile(REPO / 'configs' /
                           f'yolox_{scale}_8xb8-300e_coco.py')


def mmdet_config(scale: str) -> Config:
    return Config.fromfile(MMDET_CONFIGS / f'yolox_{scale}_8xb8-300e_coco.py')


def build_ours(scale: str) -> nn.Module:
    """Our detector from ``configs/yolox_{scale}_8xb8-300e_coco.py`` (under
    the ``yolox_mm`` scope), eval mode. ``init_weights`` is not called (it
    logs every parameter; the tests overwrite the weights anyway)."""
    import yolox_mm  # noqa: F401  (registration)
    from yolox_mm.registry import MODELS
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        model = MODELS.build(ours_config(scale).model)
    return model.eval()


def build_mmdet(scale: str) -> nn.Module:
    """mmdet 3.3.0's detector from its ``configs/yolox/yolox_{scale}_8xb8-
    300e_coco.py`` (under the ``mmdet`` scope), eval mode, PyTorch's default
    initialisation (``init_weights`` would log every parameter)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(mmdet_config(scale).model)
    return model.eval()


def mmdet_head(ours: bool, num_classes: int = 80, in_channels: int = 32,
               use_l1: bool = False) -> nn.Module:
    """A stand-alone ``YOLOXHead`` (ours or mmdet's) with the configs'
    losses and SimOTA ``center_radius=2.5``."""
    cfg = dict(
        type='YOLOXHead',
        num_classes=num_classes,
        in_channels=in_channels,
        feat_channels=in_channels,
        train_cfg=dict(assigner=dict(type='SimOTAAssigner',
                                     center_radius=2.5)),
        test_cfg=dict(score_thr=0.01, nms=dict(type='nms',
                                               iou_threshold=0.65)))
    if ours:
        import yolox_mm  # noqa: F401
        from yolox_mm.registry import MODELS
        scope = 'yolox_mm'
    else:
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        scope = 'mmdet'
    with DefaultScope.overwrite_default_scope(scope):
        head = MODELS.build(cfg)
    head.use_l1 = use_l1
    return head


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


@torch.no_grad()
def randomise_pred_biases(convs: Sequence[nn.Conv2d], seed: int,
                          mean: float = -1.0) -> None:
    """``bias ~ N(mean, 1)`` for the given 1x1 prediction convs."""
    gen = torch.Generator().manual_seed(seed)
    for conv in convs:
        conv.bias.copy_(mean + torch.randn(conv.bias.shape, generator=gen))


def bgr_images(batch: int, size: int, seed: int) -> Tensor:
    """``(batch, 3, size, size)`` float BGR images in [0, 255]: smooth
    random blobs plus noise (not only noise, so features vary in space)."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand((batch, 3, size // 16, size // 16), generator=gen)
    img = nn.functional.interpolate(low, size=(size, size), mode='bilinear',
                                    align_corners=False)
    img = 0.8 * img + 0.2 * torch.rand(img.shape, generator=gen)
    return (img * 255).round()


def swish_to_silu(model: nn.Module) -> nn.Module:
    """Replace mmcv's ``Swish`` (``x * torch.sigmoid(x)``: two roundings)
    by ``nn.SiLU`` (one fused kernel, what our and Megvii's models use), in
    place. The two functions are equal; their fp32 results differ by about
    1 ulp per activation. Returns ``model``."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if type(child).__name__ == 'Swish':
                setattr(module, name, nn.SiLU(inplace=True))
    return model


def max_abs_diff(a: Sequence[Tensor], b: Sequence[Tensor]) -> float:
    """Largest ``|a - b|`` over lists of same-shaped tensors."""
    if len(a) != len(b):
        raise ValueError(f'expected lists of equal length, got {len(a)} '
                         f'and {len(b)}')
    diffs = []
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise ValueError(f'shape mismatch: {tuple(x.shape)} vs '
                             f'{tuple(y.shape)}')
        diffs.append((x.double() - y.double()).abs().max().item()
                     if x.numel() else 0.0)
    return max(diffs, default=0.0)


def compare_detections(expected: List[Tuple[Tensor, Tensor, Tensor]],
                       actual: List[Tuple[Tensor, Tensor, Tensor]],
                       box_tol: float = 1e-3,
                       score_tol: float = 1e-5) -> dict:
    """Check per-image ``(bboxes [K, 4], scores [K], labels [K])`` lists:
    same number, same labels in the same order, boxes within ``box_tol``
    px and scores within ``score_tol``.

    Returns:
        dict: ``num_dets`` (total), ``max_box_diff``, ``max_score_diff``.

    Raises:
        AssertionError: naming the image and what differs.
    """
    stats = dict(num_dets=0, max_box_diff=0.0, max_score_diff=0.0)
    assert len(expected) == len(actual)
    for i, ((eb, es, el), (ab, as_, al)) in enumerate(zip(expected, actual)):
        assert len(eb) == len(ab), (
            f'image {i}: {len(eb)} expected detections, got {len(ab)}')
        assert torch.equal(el.long(), al.long()), (
            f'image {i}: labels/order differ at '
            f'{(el.long() != al.long()).nonzero()[:5, 0].tolist()}')
        box_diff = max_abs_diff([eb], [ab])
        score_diff = max_abs_diff([es], [as_])
        assert box_diff <= box_tol, f'image {i}: max |dbox| {box_diff}'
        assert score_diff <= score_tol, f'image {i}: max |dscore| {score_diff}'
        stats['num_dets'] += len(eb)
        stats['max_box_diff'] = max(stats['max_box_diff'], box_diff)
        stats['max_score_diff'] = max(stats['max_score_diff'], score_diff)
    return stats


def head_outputs(model: nn.Module, inputs: Tensor):
    """``(cls_scores, bbox_preds, objectnesses)`` of an mmdet-style
    detector (ours or mmdet's): lists of ``(B, K, H_l, W_l)`` raw logits."""
    return model.bbox_head(model.extract_feat(inputs))


def detections(model: nn.Module, outs, num_imgs: int, score_thr: float,
               nms_thr: float) -> List[Tuple[Tensor, Tensor, Tensor]]:
    """``predict_by_feat`` of an mmdet-style head, in input pixels."""
    from mmengine.config import ConfigDict
    cfg = ConfigDict(score_thr=score_thr,
                     nms=dict(type='nms', iou_threshold=nms_thr))
    results = model.bbox_head.predict_by_feat(
        *outs, batch_img_metas=[dict() for _ in range(num_imgs)], cfg=cfg,
        rescale=False)
    return [(r.bboxes, r.scores, r.labels) for r in results]
