"""One training step: our ``YOLOX`` against **mmdet 3.3.0**'s ``YOLOX``
(YOLOX-nano and YOLOX-s, mmdet's configs vs ours).

Identical weights (mmdet's randomised state_dict loaded into ours),
identical batch (two 256x256 BGR images, one with 25 GTs, one with 3),
train mode: ``model.loss(inputs, data_samples)`` gives the same loss terms
(relative 1e-5), ``backward()`` the same gradient for every parameter
(``max |diff| <= 1e-5 * max |grad|`` per tensor), and one SGD step
(momentum 0.9, Nesterov, weight decay 5e-4, the configs' optimiser) the
same weights and BN running statistics afterwards (relative 1e-5). Run
with and without the L1 loss (``use_l1``, the last-epochs mode).

mmdet's activation is mmcv's ``Swish`` (``x * torch.sigmoid(x)``), ours
``nn.SiLU`` (Megvii's too): the same function, but not the same fp32
rounding, forward or backward. Over the ~100 layers of the backward pass
these 1-ulp differences add up to ~1e-4 of the largest gradient of the
stem (measured: 8e-5 at s, 7e-5 at nano; the loss values agree to 1e-5
regardless), so the reference model gets ``nn.SiLU`` in place of
``Swish`` (``builders.swish_to_silu``); ``test_forward.py`` checks in
float64 that the unmodified mmdet model computes the same function. The
losses and all head and neck gradients are then bit for bit equal; the
backbone gradients from the SPP block down differ by rounding only (our
SPP computes the 9 and 13 max-pools as cascaded 5-pools: same forward,
gradients summed in another order), measured worst ``max |diff| / max
|grad|`` 4e-6 to 7e-6.
"""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from .builders import (bgr_images, build_mmdet, build_ours, head_outputs,
                       randomise, swish_to_silu)

SIZE = 256
REL = 1e-5


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
    ref = swish_to_silu(build_mmdet(scale))
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

    assert set(ref_losses) == set(our_losses)
    for key, value in ref_losses.items():
        assert abs(our_losses[key] - value) <= REL * abs(value), (
            f'{key}: mmdet {value}, ours {our_losses[key]}')
    assert set(ref_grads) == set(our_grads)
    worst_grad = 0.0
    for name, grad in ref_grads.items():
        scale_ = grad.abs().max().item()
        diff = (our_grads[name] - grad).abs().max().item()
        if scale_ > 0:
            worst_grad = max(worst_grad, diff / scale_)
        assert diff <= REL * scale_, (
            f'grad of {name}: max |diff| {diff}, max |grad| {scale_}')
    worst_weight = 0.0
    for name, value in ref_state.items():
        if not value.is_floating_point():
            assert torch.equal(value, our_state[name]), name
            continue
        diff = (our_state[name] - value).abs().max().item()
        bound = REL * max(value.abs().max().item(), 1e-6)
        worst_weight = max(worst_weight, diff / bound * REL)
        assert diff <= bound, f'{name} after the step: max |diff| {diff}'
    record_property('worst_rel_grad', worst_grad)
    print(f'\n[train {scale} l1={use_l1}] losses {ref_losses} worst rel grad '
          f'{worst_grad:.2e} worst rel weight {worst_weight:.2e}')
