"""YOLOXPSSHead: selector shapes, stop gradient both ways, NMS-free
inference on crafted logits, loading of YOLOXHead weights, selector-only
freezing."""
import math

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from yolox_mm.engine.hooks import freeze_except
from yolox_mm.models.dense_heads import YOLOXHead, YOLOXPSSHead

PSS = ('multi_level_pss_convs', 'multi_level_conv_pss')


def make_head(cls=YOLOXPSSHead, **test_cfg):
    head = cls(
        num_classes=2, in_channels=8, feat_channels=8,
        train_cfg=dict(assigner=dict(type='SimOTAAssigner',
                                     center_radius=2.5)),
        test_cfg=ConfigDict(score_thr=0.3, max_per_img=100, **test_cfg))
    head.init_weights()
    return head


def feats(batch=2, size=64, requires_grad=False):
    torch.manual_seed(0)
    return [torch.randn(batch, 8, size // s, size // s,
                        requires_grad=requires_grad) for s in (8, 16, 32)]


def gts():
    return [InstanceData(bboxes=torch.tensor([[4., 6., 30., 40.],
                                              [20., 20., 60., 56.]]),
                         labels=torch.tensor([0, 1])),
            InstanceData(bboxes=torch.zeros(0, 4),
                         labels=torch.zeros(0, dtype=torch.long))]


def test_forward_shapes_and_init():
    head = make_head()
    cls, reg, obj, pss = head(feats())
    assert [tuple(p.shape) for p in pss] == [(2, 1, 8, 8), (2, 1, 4, 4),
                                             (2, 1, 2, 2)]
    for conv in head.multi_level_conv_pss:  # prior 0.5: bias 0
        assert conv.bias.abs().max() < 1e-6
    # 2 blocks of 3x3 conv (no bias) + BN and a 1x1 conv to one logit
    per_level = 2 * (8 * 8 * 9 + 2 * 8) + 8 + 1
    assert sum(p.numel() for n, p in head.named_parameters()
               if n.startswith(PSS)) == 3 * per_level


def _grads(head, inputs):
    return {n: p.grad for n, p in head.named_parameters()}, \
        [x.grad for x in inputs]


def test_selector_loss_reaches_only_the_selector():
    head = make_head()
    head.train()
    inputs = feats(requires_grad=True)
    outs = head(inputs)
    loss = head.loss_pss_by_feat(*outs, gts())
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    grads, input_grads = _grads(head, inputs)
    for name, grad in grads.items():
        if name.startswith(PSS):
            assert grad is not None and grad.abs().sum() > 0, name
        else:
            assert grad is None, name
    assert all(g is None for g in input_grads)


def test_other_losses_never_reach_the_selector():
    head = make_head()
    head.train()
    inputs = feats(requires_grad=True)
    outs = head(inputs)
    losses = YOLOXHead.loss_by_feat(head, *outs[:3], gts(), [{}, {}])
    sum(losses.values()).backward()
    grads, input_grads = _grads(head, inputs)
    for name, grad in grads.items():
        if name.startswith(PSS):
            assert grad is None, name
    assert grads['multi_level_reg_convs.0.0.conv.weight'].abs().sum() > 0
    assert all(g is not None for g in input_grads)


def test_loss_by_feat_has_all_terms_and_handles_empty_batch():
    head = make_head()
    head.train()
    losses = head.loss_by_feat(*head(feats()), gts(), [{}, {}])
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_obj', 'loss_pss'}
    empty = [gts()[1], gts()[1]]
    losses = head.loss_by_feat(*head(feats()), empty, [{}, {}])
    assert torch.isfinite(losses['loss_pss'])


def test_loss_pss_value_by_hand():
    """One prior, one class: q = s(cls) s(obj) s(pss) and the target is 1
    at the GT's one-to-one prior; loss = sum of BCE / 1 GT."""
    head = YOLOXPSSHead(num_classes=1, in_channels=4, feat_channels=4,
                        strides=(32, ),
                        train_cfg=dict(assigner=dict(type='SimOTAAssigner')))
    cls = [torch.tensor([[[[0.5, -1.0]]]])]
    reg = [torch.zeros(1, 4, 1, 2)]
    obj = [torch.tensor([[[[1.0, 2.0]]]])]
    pss = [torch.tensor([[[[0.3, -0.7]]]])]
    gt = [InstanceData(bboxes=torch.tensor([[0., 0., 32., 32.]]),
                       labels=torch.tensor([0]))]
    loss = head.loss_pss_by_feat(cls, reg, obj, pss, gt)
    s = torch.sigmoid
    q0 = s(torch.tensor(0.5)) * s(torch.tensor(1.0)) * s(torch.tensor(0.3))
    q1 = s(torch.tensor(-1.0)) * s(torch.tensor(2.0)) * s(torch.tensor(-.7))
    # prior 0 (centre 16, 16) is inside the box; prior 1 (48, 16) is not
    expected = -torch.log(q0) - torch.log(1 - q1)
    torch.testing.assert_close(loss, expected)


def _crafted(pss_logits):
    """One level, stride 8, 1 x 2 map, one class: two neighbouring priors
    with the same class and objectness logits (score 0.776^2) and 32-px
    boxes 8 px apart (IoU 0.6)."""
    cls = [torch.full((1, 1, 1, 2), 2.0)]
    obj = [torch.full((1, 1, 1, 2), 2.0)]
    reg = [torch.zeros(1, 4, 1, 2)]
    reg[0][:, 2:] = math.log(4.0)
    pss = [torch.tensor(pss_logits).reshape(1, 1, 1, 2)]
    return cls, reg, obj, pss


def _one_level_head(**test_cfg):
    cfg = ConfigDict(score_thr=0.3, max_per_img=100)
    cfg.update(test_cfg)
    return YOLOXPSSHead(num_classes=1, in_channels=4, feat_channels=4,
                        strides=(8, ), test_cfg=cfg)


def test_end_to_end_inference_needs_no_nms(monkeypatch):
    import mmcv.ops

    def forbidden(*args, **kwargs):
        raise AssertionError('NMS was called')

    monkeypatch.setattr(mmcv.ops, 'batched_nms', forbidden)
    head = _one_level_head()
    result, = head.predict_by_feat(*_crafted([5.0, -5.0]),
                                   batch_img_metas=[{}])
    assert len(result) == 1
    expected = torch.sigmoid(torch.tensor(2.0))**2 * torch.sigmoid(
        torch.tensor(5.0))
    torch.testing.assert_close(result.scores, expected[None])
    # box of prior 0: centre (0, 0), size 32
    torch.testing.assert_close(result.bboxes,
                               torch.tensor([[-16., -16., 16., 16.]]))
    assert result.labels.tolist() == [0]
    # without the selector factor, both priors are kept: a duplicate
    both, = _one_level_head(use_pss=False).predict_by_feat(
        *_crafted([5.0, -5.0]), batch_img_metas=[{}])
    assert len(both) == 2


def test_nms_can_be_switched_on():
    head = _one_level_head(nms=dict(type='nms', iou_threshold=0.5),
                           use_pss=False, nms_free=False)
    result, = head.predict_by_feat(*_crafted([0.0, 0.0]),
                                   batch_img_metas=[{}])
    assert len(result) == 1  # IoU 0.6 > 0.5: NMS removes one
    head.test_cfg.nms_free = True  # the default: nms is ignored
    result, = head.predict_by_feat(*_crafted([0.0, 0.0]),
                                   batch_img_metas=[{}])
    assert len(result) == 2


def test_top_k_caps_the_detections():
    head = _one_level_head(use_pss=False, max_per_img=1)
    result, = head.predict_by_feat(*_crafted([0.0, 0.0]),
                                   batch_img_metas=[{}])
    assert len(result) == 1


def test_yolox_head_weights_load_and_only_selector_is_new():
    base = make_head(cls=YOLOXHead)
    head = make_head()
    missing, unexpected = head.load_state_dict(base.state_dict(),
                                               strict=False)
    assert not unexpected
    assert missing and all(k.startswith(PSS) for k in missing)
    for name, value in base.state_dict().items():
        assert torch.equal(head.state_dict()[name], value)


def test_freeze_except_keeps_only_the_selector_trainable():
    head = make_head()
    head.train()
    left = freeze_except(head, PSS)
    assert left == sum(p.numel() for n, p in head.named_parameters()
                       if n.startswith(PSS))
    for name, param in head.named_parameters():
        assert param.requires_grad == name.startswith(PSS)
    assert not head.multi_level_cls_convs[0][0].bn.training
    assert head.multi_level_pss_convs[0][0].bn.training
    with pytest.raises(ValueError, match='no parameter'):
        freeze_except(head, ('nothing', ))


def test_loss_pss_logit_mode_by_hand():
    """``loss_pss_mode='logit'``: focal loss (alpha 0.25, gamma 2) of the
    selector logit alone, target 1 on the one-to-one prior (prior 0)."""
    head = YOLOXPSSHead(num_classes=1, in_channels=4, feat_channels=4,
                        strides=(32, ), loss_pss_mode='logit',
                        train_cfg=dict(assigner=dict(type='SimOTAAssigner')))
    cls = [torch.tensor([[[[0.5, -1.0]]]])]
    reg = [torch.zeros(1, 4, 1, 2)]
    obj = [torch.tensor([[[[1.0, 2.0]]]])]
    pss = [torch.tensor([[[[0.3, -0.7]]]])]
    gt = [InstanceData(bboxes=torch.tensor([[0., 0., 32., 32.]]),
                       labels=torch.tensor([0]))]
    loss = head.loss_pss_by_feat(cls, reg, obj, pss, gt)
    p0, p1 = torch.sigmoid(torch.tensor(0.3)), torch.sigmoid(
        torch.tensor(-0.7))
    expected = (0.25 * (1 - p0)**2 * -torch.log(p0) +
                0.75 * p1**2 * -torch.log(1 - p1))
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match='loss_pss_mode'):
        YOLOXPSSHead(num_classes=1, in_channels=4, loss_pss_mode='focal')


def test_decode_predictions_multiplies_the_selector_into_objectness():
    head = _one_level_head()
    cls, reg, obj, pss = _crafted([5.0, -5.0])
    decoded = head.decode_predictions(cls, reg, obj, pss)
    s2, s5 = torch.sigmoid(torch.tensor(2.0)), torch.sigmoid(
        torch.tensor([5.0, -5.0]))
    torch.testing.assert_close(decoded.obj_probs, (s2 * s5)[None])
    torch.testing.assert_close(decoded.class_scores(),
                               (s2 * (s2 * s5))[None, :, None])
    # the two boxes: centres (0, 0) and (8, 0), size 32
    torch.testing.assert_close(decoded.bboxes, torch.tensor(
        [[[-16., -16., 16., 16.], [-8., -16., 24., 16.]]]))
    without = head.decode_predictions(cls, reg, obj)
    torch.testing.assert_close(without.obj_probs, s2.expand(1, 2))


def test_predict_without_metas_unless_rescaling():
    head = _one_level_head()
    result, = head.predict_by_feat(*_crafted([5.0, -5.0]))
    assert len(result) == 1 and result.labels.tolist() == [0]
    with pytest.raises(ValueError, match='batch_img_metas'):
        head.predict_by_feat(*_crafted([5.0, -5.0]), rescale=True)
