import math

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.task_modules.assigners import BaseAssigner
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from yolox_mm.models.dense_heads import YOLOXHead
from yolox_mm.models.task_modules.coders import (decode_bboxes,
                                                 encode_l1_target)
from yolox_mm.models.task_modules.assigners import SimOTAAssigner
from yolox_mm.registry import TASK_UTILS


def make_head(**kwargs):
    head = YOLOXHead(
        num_classes=2,
        in_channels=8,
        feat_channels=8,
        train_cfg=dict(assigner=dict(type='SimOTAAssigner',
                                     center_radius=2.5)),
        test_cfg=ConfigDict(score_thr=0.01,
                            nms=dict(type='nms', iou_threshold=0.65)),
        **kwargs)
    head.init_weights()
    return head


def feats(batch=1, size=64):
    torch.manual_seed(0)
    return [torch.randn(batch, 8, size // s, size // s) for s in (8, 16, 32)]


def test_init_bias_prior_prob():
    head = make_head()
    expected = -math.log((1 - 0.01) / 0.01)
    for conv in list(head.multi_level_conv_cls) + list(
            head.multi_level_conv_obj):
        torch.testing.assert_close(conv.bias,
                                   torch.full_like(conv.bias, expected))


def test_decode_encode_round_trip():
    priors = torch.tensor([[16., 24., 8., 8.], [32., 0., 32., 32.]])
    gt = torch.tensor([[10., 20., 30., 36.], [0., 4., 100., 60.]])
    deltas = encode_l1_target(gt, priors, eps=0)
    torch.testing.assert_close(decode_bboxes(priors, deltas), gt)


def test_loss_without_gt():
    head = make_head()
    outs = head(feats())
    empty = InstanceData(bboxes=torch.zeros((0, 4)),
                         labels=torch.zeros((0, ), dtype=torch.long))
    losses = head.loss_by_feat(*outs, [empty], [dict(img_shape=(64, 64))])
    assert losses['loss_cls'].item() == 0
    assert losses['loss_bbox'].item() == 0
    # no positive: every prior has objectness target 0, normaliser 1
    obj = torch.cat([o.flatten() for o in outs[2]])
    expected_obj = F.softplus(obj).sum()
    torch.testing.assert_close(losses['loss_obj'], expected_obj)
    assert losses['loss_obj'].item() > 0
    # cls and bbox stay in the graph (mmdet #7298)
    (losses['loss_cls'] + losses['loss_bbox']).backward()
    assert head.multi_level_conv_cls[0].weight.grad is not None


def test_loss_with_one_gt_matches_the_definition():
    head = make_head()
    head.use_l1 = True
    outs = head(feats())
    gt = InstanceData(bboxes=torch.tensor([[16., 12., 48., 44.]]),
                      labels=torch.tensor([1]))
    losses = head.loss_by_feat(*outs, [gt], [dict(img_shape=(64, 64))])

    # the definition, written out for this single image
    priors = torch.cat(head.prior_generator.grid_priors(
        [o.shape[2:] for o in outs[0]], device='cpu', with_stride=True))
    cls = torch.cat([o[0].flatten(1).T for o in outs[0]])
    reg = torch.cat([o[0].flatten(1).T for o in outs[1]])
    obj = torch.cat([o[0].flatten() for o in outs[2]])
    boxes = decode_bboxes(priors, reg)
    offset = torch.cat([priors[:, :2] + priors[:, 2:] / 2, priors[:, 2:]], 1)
    scores = (cls.sigmoid() * obj.sigmoid()[:, None]).sqrt()
    assign = SimOTAAssigner(center_radius=2.5).assign(
        InstanceData(priors=offset, bboxes=boxes.detach(),
                     scores=scores.detach()), gt)
    pos = assign.gt_inds > 0
    n = pos.sum()
    assert n >= 1
    iou = assign.max_overlaps[pos]
    cls_target = torch.zeros(int(n), 2)
    cls_target[:, 1] = iou
    exp_cls = F.binary_cross_entropy_with_logits(
        cls[pos], cls_target, reduction='sum') / n
    exp_obj = F.binary_cross_entropy_with_logits(
        obj, pos.float(), reduction='sum') / n
    gt_box = gt.bboxes.expand(int(n), 4)
    lt = torch.maximum(boxes[pos, :2], gt_box[:, :2])
    rb = torch.minimum(boxes[pos, 2:], gt_box[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa
    ious = inter / (area(boxes[pos]) + area(gt_box) - inter)
    exp_bbox = 5 * (1 - ious**2).sum() / n
    ctr = (16 + 48) / 2, (12 + 44) / 2
    s = priors[pos, 2]
    l1_target = torch.stack([(ctr[0] - priors[pos, 0]) / s,
                             (ctr[1] - priors[pos, 1]) / s,
                             torch.log(32 / s + 1e-8),
                             torch.log(32 / s + 1e-8)], 1)
    exp_l1 = (reg[pos] - l1_target).abs().sum() / n
    torch.testing.assert_close(losses['loss_cls'], exp_cls)
    torch.testing.assert_close(losses['loss_obj'], exp_obj)
    torch.testing.assert_close(losses['loss_bbox'], exp_bbox)
    torch.testing.assert_close(losses['loss_l1'], exp_l1)


def test_predict_decodes_a_known_prior():
    head = make_head()
    # level 0 (stride 8), grid x=2, y=3: class 1, t = (0.5, 0.25, ln 2, 0)
    cls, reg, obj = _known_prior_outputs()
    # centre ((2 + 0.5) * 8, (3 + 0.25) * 8) = (20, 26), size (16, 8)
    (result, ) = head.predict_by_feat(
        cls, reg, obj, [dict(img_shape=(64, 64), scale_factor=(2., 4.))],
        rescale=True)
    assert result.labels.tolist() == [1]
    # rescale divides x by 2 and y by 4
    torch.testing.assert_close(result.bboxes,
                               torch.tensor([[6., 5.5, 14., 7.5]]))
    torch.testing.assert_close(result.scores,
                               torch.sigmoid(torch.tensor([20.]))**2)


def test_bad_arguments():
    with pytest.raises(ValueError):
        YOLOXHead(num_classes=0, in_channels=8)
    head = make_head()
    with pytest.raises(ValueError, match='expects 3'):
        head(feats()[:2])


def _known_prior_outputs():
    """The outputs of :func:`test_predict_decodes_a_known_prior`: one
    confident prior, level 0, grid (x, y) = (2, 3), class 1."""
    cls = [torch.full((1, 2, n, n), -20.) for n in (8, 4, 2)]
    reg = [torch.zeros(1, 4, n, n) for n in (8, 4, 2)]
    obj = [torch.full((1, 1, n, n), -20.) for n in (8, 4, 2)]
    cls[0][0, 1, 3, 2] = 20.
    obj[0][0, 0, 3, 2] = 20.
    reg[0][0, :, 3, 2] = torch.tensor([0.5, 0.25, math.log(2), 0.])
    return cls, reg, obj


def test_decode_predictions_named_outputs():
    head = make_head()
    decoded = head.decode_predictions(*_known_prior_outputs())
    assert decoded.bboxes.shape == (1, 64 + 16 + 4, 4)
    idx = 3 * 8 + 2  # row-major within level 0
    # centre (20, 26), size (16, 8), input pixels
    torch.testing.assert_close(decoded.bboxes[0, idx],
                               torch.tensor([12., 22., 28., 30.]))
    high, low = torch.sigmoid(torch.tensor(20.)), torch.sigmoid(
        torch.tensor(-20.))
    assert decoded.labels[0, idx] == 1
    torch.testing.assert_close(decoded.scores[0, idx], high * high)
    torch.testing.assert_close(decoded.class_scores()[0, idx],
                               torch.stack([low * high, high * high]))
    # every other prior: objectness sigmoid(-20)
    others = torch.ones(84, dtype=torch.bool)
    others[idx] = False
    torch.testing.assert_close(decoded.obj_probs[0, others],
                               low.expand(83))
    # the same priors, with their half-stride centres, for the assigner
    priors = head.flat_priors(_known_prior_outputs()[0])
    torch.testing.assert_close(priors[idx], torch.tensor([16., 24., 8., 8.]))


def test_predict_needs_metas_only_to_rescale():
    head = make_head()
    outs = _known_prior_outputs()
    (result, ) = head.predict_by_feat(*outs)
    torch.testing.assert_close(result.bboxes,
                               torch.tensor([[12., 22., 28., 30.]]))
    with pytest.raises(ValueError, match='batch_img_metas'):
        head.predict_by_feat(*outs, rescale=True)
    with pytest.raises(ValueError, match='expected 1 batch_img_metas'):
        head.predict_by_feat(*outs, [dict(), dict()])


def test_set_l1_switches_the_l1_loss():
    head = make_head()
    outs = head(feats())
    gt = InstanceData(bboxes=torch.tensor([[16., 12., 48., 44.]]),
                      labels=torch.tensor([1]))
    metas = [dict(img_shape=(64, 64))]
    assert 'loss_l1' not in head.loss_by_feat(*outs, [gt], metas)
    head.set_l1(True)
    assert head.use_l1 is True
    assert head.loss_by_feat(*outs, [gt], metas)['loss_l1'] > 0
    head.set_l1(False)
    assert 'loss_l1' not in head.loss_by_feat(*outs, [gt], metas)


class _PerImageSimOTA(BaseAssigner):
    """Our SimOTA seen only through mmdet's per-image ``assign``."""

    def __init__(self):
        self.inner = SimOTAAssigner(center_radius=2.5)

    def assign(self, pred_instances, gt_instances, **kwargs):
        return self.inner.assign(pred_instances, gt_instances)


def _two_image_losses(head):
    outs = head(feats(batch=2))
    gts = [InstanceData(bboxes=torch.tensor([[16., 12., 48., 44.],
                                             [2., 30., 20., 60.]]),
                        labels=torch.tensor([1, 0])),
           InstanceData(bboxes=torch.zeros((0, 4)),
                        labels=torch.zeros((0, ), dtype=torch.long))]
    return head.loss_by_feat(*outs, gts, [dict(img_shape=(64, 64))] * 2)


@pytest.mark.parametrize('assigner', ['per_image_ours', 'mmdet'])
def test_per_image_mmdet_assigner_gives_the_batched_losses(assigner):
    """The ``assign`` branch of ``_assign`` (padding stripped per image, an
    image without GT included) gives the losses of the batched path."""
    head = make_head()
    head.set_l1(True)
    expected = _two_image_losses(head)
    assert expected['loss_cls'] > 0  # there are positives to compare
    head.assigner = _PerImageSimOTA() if assigner == 'per_image_ours' else \
        TASK_UTILS.build(dict(type='mmdet.SimOTAAssigner', center_radius=2.5))
    losses = _two_image_losses(head)
    assert set(losses) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(losses[name], value)


def test_unsupported_assigner_is_a_type_error():
    head = make_head()
    head.assigner = object()
    with pytest.raises(TypeError, match='batch_assign_logits'):
        _two_image_losses(head)
