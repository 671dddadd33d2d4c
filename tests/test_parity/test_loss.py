"""Loss parity: our ``YOLOXHead.loss_by_feat`` against **mmdet 3.3.0**'s
``YOLOXHead.loss_by_feat`` (same loss configs, mmdet's ``SimOTAAssigner``
in its head, ours in ours), term by term (relative 1e-5), with and without
the L1 loss, on a batch that includes an image without GT, and on a batch
without any GT. The gradients with respect to the three prediction maps
are compared too.

Megvii's yolox-datamint 0.3.1 differs from both only in the normaliser
(``num_fg`` of the local batch instead of mmdet's ``reduce_mean``, equal
on one process: ``num_fg = max(num_fg, 1)`` in ``yolox/models/yolo_head.py``
``get_losses``, against ``reduce_mean(num_pos)`` in mmdet's
``yolox_head.py``); it is not run here.
"""
import pytest
import torch
from mmengine.structures import InstanceData

from yolox_mm.testing.reference import build_head

NUM_CLASSES = 8
SIZE = 320
STRIDES = (8, 16, 32)
REL = 1e-5


def predictions(num_imgs: int, seed: int):
    """Raw head outputs ``(cls_scores, bbox_preds, objectnesses)``, lists of
    ``(B, K, H_l, W_l)`` leaf tensors (requires_grad)."""
    gen = torch.Generator().manual_seed(seed)
    cls, reg, obj = [], [], []
    for s in STRIDES:
        shape = (num_imgs, SIZE // s, SIZE // s)
        cls.append(torch.randn((shape[0], NUM_CLASSES) + shape[1:],
                               generator=gen) * 2 - 2)
        t = torch.randn((shape[0], 4) + shape[1:], generator=gen) * 0.5
        t[:, 2:] += 1.0  # boxes of about e * stride
        reg.append(t)
        obj.append(torch.randn((shape[0], 1) + shape[1:], generator=gen) * 2
                   - 1)
    return tuple([t.requires_grad_() for t in group]
                 for group in (cls, reg, obj))


def gt_instances(num_gts, seed: int) -> list:
    """Per image ``InstanceData(bboxes [G, 4] xyxy, labels [G])``, random
    boxes of 4 to 200 px inside the image."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for n in num_gts:
        wh = 4 + 196 * torch.rand((n, 2), generator=gen)
        xy = torch.rand((n, 2), generator=gen) * (SIZE - wh)
        out.append(InstanceData(
            bboxes=torch.cat([xy, xy + wh], 1),
            labels=torch.randint(0, NUM_CLASSES, (n, ), generator=gen)))
    return out


def _losses_and_grads(head, preds, gts):
    preds = tuple([t.detach().clone().requires_grad_() for t in group]
                  for group in preds)
    metas = [dict(img_shape=(SIZE, SIZE), batch_input_shape=(SIZE, SIZE))
             for _ in gts]
    losses = head.loss_by_feat(*preds, gts, metas)
    sum(losses.values()).backward()
    grads = [t.grad for group in preds for t in group]
    return {k: v.detach() for k, v in losses.items()}, grads


@pytest.mark.parametrize('use_l1', [False, True], ids=['no_l1', 'l1'])
@pytest.mark.parametrize('num_gts', [(12, 0, 40), (0, 0)],
                         ids=['with_empty_image', 'no_gt'])
def test_loss_by_feat_matches_mmdet(use_l1, num_gts, record_property):
    ref = build_head('mmdet', NUM_CLASSES, in_channels=32, use_l1=use_l1)
    ours = build_head('ours', NUM_CLASSES, in_channels=32, use_l1=use_l1)
    preds = predictions(len(num_gts), seed=1)
    gts = gt_instances(num_gts, seed=2)

    ref_losses, ref_grads = _losses_and_grads(ref, preds, gts)
    our_losses, our_grads = _losses_and_grads(ours, preds, gts)

    expected_keys = {'loss_cls', 'loss_bbox', 'loss_obj'} | (
        {'loss_l1'} if use_l1 else set())
    assert set(ref_losses) == set(our_losses) == expected_keys
    rel = {}
    for key, value in ref_losses.items():
        diff = (our_losses[key] - value).abs().item()
        rel[key] = diff / max(value.abs().item(), 1e-12)
        assert diff <= REL * value.abs().item() + 1e-12, (
            f'{key}: mmdet {value.item()}, ours {our_losses[key].item()}')
    if sum(num_gts):
        assert all(v.item() > 0 for v in ref_losses.values())
    else:
        assert ref_losses['loss_cls'].item() == 0
    for ref_g, our_g in zip(ref_grads, our_grads):
        scale = ref_g.abs().max().item()
        assert (our_g - ref_g).abs().max().item() <= REL * scale + 1e-12
    record_property('relative_diffs', rel)
    print(f'\n[loss {num_gts} l1={use_l1}] '
          f'{ {k: v.item() for k, v in ref_losses.items()} } rel {rel}')
