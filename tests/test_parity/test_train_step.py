"""One training step: our ``YOLOX`` against **mmdet 3.3.0**'s ``YOLOX``
(YOLOX-nano and YOLOX-s, mmdet's configs vs ours).

Identical weights (mmdet's randomised state_dict loaded into ours),
identical batch (two 256x256 BGR images, one with 25 GTs, one with 3),
train mode: ``model.loss(inputs, data_samples)`` gives the same loss terms,
``backward()`` the same gradient for every parameter, and one SGD step
(momentum 0.9, Nesterov, weight decay 5e-4, the configs' optimiser) the
same weights and BN running statistics afterwards, all bit for bit. Run
with and without the L1 loss (``use_l1``, the last-epochs mode).

mmdet's activation is mmcv's ``Swish`` (``x * torch.sigmoid(x)``), ours
``nn.SiLU`` (Megvii's too): the same function, but not the same fp32
rounding, forward or backward; and mmdet's SPP max-pools with 5, 9 and 13
while ours cascades 5-pools (``pool9 = pool5(pool5)``: the same values, but
the gradients are routed and summed in another order). Left as they are,
the 1-ulp differences add up over the ~100 layers of the backward pass to
~1e-5 of the largest gradient of the stem, depending on the CPU and the
thread count (measured 4e-6 to 1.1e-5). So the reference model gets
``nn.SiLU`` in place of ``Swish`` (``builders.swish_to_silu``) and the
cascade (``builders.spp_as_cascade``; :func:`test_spp_cascade_is_exact`
checks that its forward is mmdet's bit for bit, and ``test_forward.py``
checks in float64 that the unmodified mmdet model computes our function).
Then the losses, every gradient and the weights after the step are **bit
for bit** equal, at any thread count.
"""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from .builders import (bgr_images, build_mmdet, build_ours, head_outputs,
                       randomise, spp_as_cascade, swish_to_silu)

SIZE = 256


def data_samples(num_gts, seed: int) -> list:
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for n in num_gts:
        wh = 6 + 150 * torch.rand((n, 2), generator=gen)
        xy = torch.rand((n, 2), generator=gen) * (SIZE - wh)
        sample = DetDataSample(metainfo=dict(
            img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
            pad_shape=(SIZE, SIZE), batch_input_shape=(SIZE, SIZE),
            scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + wh], 1),
            labels=torch.randint(0, 80, (n, ), generator=gen))
        samples.append(sample)
    return samples


def _step(model, inputs, samples):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                                weight_decay=5e-4, nesterov=True)
    optimizer.zero_grad()
    losses = model.loss(inputs, samples)
    sum(losses.values()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    optimizer.step()
    return ({k: v.item() for k, v in losses.items()}, grads,
            {k: v.clone() for k, v in model.state_dict().items()})


@pytest.mark.parametrize('scale, use_l1', [
    ('nano', False), ('nano', True),
    pytest.param('s', True, marks=pytest.mark.slow)
], ids=['nano-no_l1', 'nano-l1', 's-l1'])
def test_train_step_matches_mmdet(scale, use_l1, record_property):
    ref = spp_as_cascade(swish_to_silu(build_mmdet(scale)))
    with torch.no_grad():
        randomise(ref, bgr_images(2, SIZE, seed=3), seed=2,
                  forward=head_outputs)
    assert not any(type(m).__name__ == 'Swish' for m in ref.modules())
    ours = build_ours(scale)
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.bbox_head.use_l1 = ours.bbox_head.use_l1 = use_l1

    inputs = bgr_images(2, SIZE, seed=3)
    samples = data_samples((25, 3), seed=4)
    ref_losses, ref_grads, ref_state = _step(ref, inputs, samples)
    our_losses, our_grads, our_state = _step(ours, inputs, samples)

    assert our_losses == ref_losses
    assert set(ref_grads) == set(our_grads)
    differ = [n for n, g in ref_grads.items()
              if not torch.equal(our_grads[n], g)]
    worst_grad = max((((our_grads[n] - ref_grads[n]).abs().max() /
                       ref_grads[n].abs().max().clamp(min=1e-30)).item()
                      for n in differ), default=0.0)
    assert not differ, (f'{len(differ)} gradients differ, e.g. {differ[:3]} '
                        f'(worst relative {worst_grad:.2e})')
    assert set(ref_state) == set(our_state)
    differ = [n for n, v in ref_state.items()
              if not torch.equal(our_state[n], v)]
    assert not differ, f'after the step, {differ[:3]} differ'
    record_property('losses', ref_losses)


def test_spp_cascade_is_exact():
    """``spp_as_cascade`` leaves mmdet's SPP forward bit for bit as it was
    (max-pooling with stride 1 and -inf padding composes exactly)."""
    from mmdet.models.backbones.csp_darknet import SPPBottleneck
    torch.manual_seed(0)
    spp = SPPBottleneck(16, 16).eval()
    x = torch.randn(2, 16, 20, 20)
    with torch.no_grad():
        before = spp(x)
        wrapper = torch.nn.Sequential(spp)
        spp_as_cascade(wrapper)
        after = spp(x)
    assert torch.equal(before, after)
