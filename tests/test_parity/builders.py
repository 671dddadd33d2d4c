"""Shared helpers of the parity tests: compare outputs and detections of our
model, mmdet 3.3.0's and Megvii's. Building the models, randomising their
BN statistics and the input images come from :mod:`yolox_mm.testing`
(re-exported here under the names the tests use).

Scales: ``nano``, ``tiny``, ``s``, ``m``, ``l``, ``x`` (Megvii's
``exps/default/yolox_*.py``, mmdet's and our ``configs/yolox_*_8xb8-300e_
coco.py``).
"""
from functools import partial
from pathlib import Path
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from yolox_mm.testing.calibrate import randomise  # noqa: F401
from yolox_mm.testing.reference import SCALES, build_detector  # noqa: F401
from yolox_mm.testing.synthetic import bgr_images  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
#: Our detector / mmdet's from ``configs/yolox_{scale}_8xb8-300e_coco.py``
#: (:func:`yolox_mm.testing.reference.build_detector`), eval mode,
#: PyTorch's default initialisation.
build_ours = partial(build_detector, 'ours')
build_mmdet = partial(build_detector, 'mmdet')


@torch.no_grad()
def randomise_pred_biases(convs: Sequence[nn.Conv2d], seed: int,
                          mean: float = -1.0) -> None:
    """``bias ~ N(mean, 1)`` for the given 1x1 prediction convs."""
    gen = torch.Generator().manual_seed(seed)
    for conv in convs:
        conv.bias.copy_(mean + torch.randn(conv.bias.shape, generator=gen))


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


def spp_as_cascade(model: nn.Module) -> nn.Module:
    """Make every mmdet ``SPPBottleneck`` of ``model`` compute its 5/9/13
    max-pools as a cascade of 5-pools, as ours does, in place. Max-pooling
    with stride 1 composes exactly (``pool9 = pool5(pool5)``), so the
    forward values do not change; the backward then routes and sums the
    pools' gradients in the same order as ours. Returns ``model``."""
    for module in model.modules():
        if type(module).__name__ != 'SPPBottleneck':
            continue
        sizes = [p.kernel_size for p in module.poolings]
        if sizes != [5, 9, 13]:
            raise ValueError(f'expected pools 5/9/13, got {sizes}')

        def forward(x, m=module):
            x = m.conv1(x)
            feats = [x]
            for _ in range(3):
                feats.append(m.poolings[0](feats[-1]))
            return m.conv2(torch.cat(feats, dim=1))
        module.forward = forward
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
