"""Tests of yolox_mm MixUp: hand-derived cases and parity with mmdet."""
import copy

import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import MixUp as MMDetMixUp
from mmdet.structures.bbox import HorizontalBoxes

from yolox_mm.datasets.transforms import MixUp


def _sample(img, boxes_xyxy, labels, ignore=None):
    boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
    if ignore is None:
        ignore = [False] * len(boxes)
    return dict(
        img=img,
        img_shape=img.shape[:2],
        gt_bboxes=HorizontalBoxes(boxes),
        gt_bboxes_labels=np.asarray(labels, dtype=np.int64),
        gt_ignore_flags=np.asarray(ignore, dtype=bool))


def _fixed_draws(monkeypatch, uniform, randint=()):
    """np.random.uniform / randint return the given values in order."""
    uniform, randint = iter(uniform), iter(randint)
    monkeypatch.setattr(np.random, 'uniform',
                        lambda low=0.0, high=1.0, size=None: next(uniform))
    monkeypatch.setattr(np.random, 'randint',
                        lambda low, high=None, size=None: next(randint))
    return uniform, randint


def test_mixup_identity_geometry_blends_half_half(monkeypatch):
    # img_scale (W, H) = (64, 48); the partner is 64x48 too, so the letterbox
    # ratio is 1; jit = 1.0 keeps 64x48; U(0, 1) = 0.0 is not > 0.5: no flip.
    # The padded canvas is exactly the target size: no randint draw.
    uniform, randint = _fixed_draws(monkeypatch, [1.0, 0.0])
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    partner_img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    results = _sample(img, [[1, 1, 5, 5]], [0])
    results['mix_results'] = [_sample(partner_img, [[10, 5, 30, 25]], [7])]

    out = MixUp(img_scale=(64, 48)).transform(results)
    assert next(uniform, None) is None and next(randint, None) is None

    # floor(0.5 * a + 0.5 * b), computed here in plain ints.
    expected = (img.astype(np.int64) + partner_img.astype(np.int64)) // 2
    np.testing.assert_array_equal(out['img'], expected.astype(np.uint8))
    assert out['img_shape'] == (48, 64)
    assert torch.equal(out['gt_bboxes'].tensor,
                       torch.tensor([[1., 1., 5., 5.], [10., 5., 30., 25.]]))
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [0, 7])


def test_mixup_jitter_flip_offset_boxes(monkeypatch):
    # img_scale (32, 24); partner 32x24 -> ratio 1. jit = 2.0 -> 64x48
    # canvas; U = 0.9 > 0.5 -> flipped. Target 30 wide x 20 high, so
    # y_off = randint(0, 48 - 20) -> 10, then x_off = randint(0, 64 - 30)
    # -> 20.
    _fixed_draws(monkeypatch, [2.0, 0.9], [10, 20])
    partner_img = np.zeros((24, 32, 3), dtype=np.uint8)
    partner_img[:, :16] = 200  # left half bright; after the flip: right half
    results = _sample(np.zeros((20, 30, 3), dtype=np.uint8), [[0, 0, 4, 4]],
                      [1])
    results['mix_results'] = [
        _sample(partner_img, [[2, 3, 8, 9], [30, 20, 31, 23]], [5, 6])
    ]
    out = MixUp(img_scale=(32, 24)).transform(results)

    # Box (2, 3, 8, 9) * 2 = (4, 6, 16, 18); flip in a 64-wide canvas:
    # x1 = 64 - 16 = 48, x2 = 64 - 4 = 60 -> (48, 6, 60, 18); shift by
    # (-20, -10) -> (28, -4, 40, 8); clip to 30x20 -> (28, 0, 30, 8).
    # Box (30, 20, 31, 23) * 2 = (60, 40, 62, 46) -> flip (2, 40, 4, 46)
    # -> shift (-18, 30, -16, 36) -> clip (0, 20, 0, 20): not inside, dropped.
    assert torch.equal(out['gt_bboxes'].tensor,
                       torch.tensor([[0., 0., 4., 4.], [28., 0., 30., 8.]]))
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [1, 5])
    # Flipped jittered canvas: columns 0..31 dark, 32..63 bright (200).
    # Window columns 0..29 are canvas columns 20..49: 0..11 dark, 12..29
    # bright, away from the one blended edge column pair (31/32).
    assert (out['img'][:, :11] == 0).all()
    assert (out['img'][:, 13:] == 100).all()  # floor((0 + 200) / 2)


def test_mixup_skips_without_boxes(monkeypatch):
    _fixed_draws(monkeypatch, [])  # any draw would raise StopIteration
    img = np.full((20, 30, 3), 7, dtype=np.uint8)
    partner = _sample(np.zeros((20, 30, 3), np.uint8), np.zeros((0, 4)), [])
    results = _sample(img, [[0, 0, 4, 4]], [1])
    results['mix_results'] = [partner]
    out = MixUp(img_scale=(30, 20)).transform(results)
    assert out['img'] is img and len(out['gt_bboxes']) == 1


def _random_pair(seed, target_hw=(40, 48)):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, target_hw + (3, ), dtype=np.uint8)
    h, w = rng.integers(15, 90, 2)
    partner_img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

    def boxes(n, w, h):
        xy = rng.uniform(-5, [w, h], (n, 2))
        return np.concatenate([xy, xy + rng.uniform(1, 30, (n, 2))], 1)

    n, k = rng.integers(1, 5, 2)
    results = _sample(img, boxes(n, *target_hw[::-1]), rng.integers(0, 80, n))
    results['mix_results'] = [
        _sample(partner_img, boxes(k, w, h), rng.integers(0, 80, k),
                rng.random(k) < 0.3)
    ]
    return results


@pytest.mark.parametrize('seed', range(8))
def test_mixup_matches_mmdet_for_same_seed(seed):
    kwargs = dict(img_scale=(48, 40), ratio_range=(0.8, 1.6))
    np.random.seed(seed)
    ours = MixUp(**kwargs).transform(_random_pair(seed))
    ours_next = np.random.random()
    np.random.seed(seed)
    ref = MMDetMixUp(**kwargs).transform(_random_pair(seed))
    ref_next = np.random.random()

    assert ours_next == ref_next  # same random draws
    assert torch.equal(ours['gt_bboxes'].tensor, ref['gt_bboxes'].tensor)
    np.testing.assert_array_equal(ours['gt_bboxes_labels'],
                                  ref['gt_bboxes_labels'])
    np.testing.assert_array_equal(ours['gt_ignore_flags'],
                                  ref['gt_ignore_flags'])
    assert ours['img_shape'] == ref['img_shape']
    # Documented difference: float32 instead of float64 jitter canvas; the
    # truncation to uint8 then differs by 1 for a few pixels (measured: up
    # to 1e-4 of them at 640x640, up to 0.8 % on these tiny images).
    diff = np.abs(ours['img'].astype(np.int16) - ref['img'])
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-2


class _AnnotationOnlyDataset:
    """``get_data_info`` as mmengine's; ``__getitem__`` as a loaded sample."""

    def __init__(self, num_instances, ignore_all=()):
        self.num_instances = num_instances
        self.ignore_all = set(ignore_all)
        self.getitem_calls = 0

    def __len__(self):
        return len(self.num_instances)

    def get_data_info(self, idx):
        flag = int(idx in self.ignore_all)
        return dict(instances=[
            dict(bbox=[0, 0, 1, 1], bbox_label=0, ignore_flag=flag)
            for _ in range(self.num_instances[idx])
        ])

    def __getitem__(self, idx):  # what mmdet's get_indexes loads
        self.getitem_calls += 1
        boxes = np.zeros((self.num_instances[idx], 4), dtype=np.float32)
        return dict(gt_bboxes=HorizontalBoxes(boxes))


def test_get_indexes_same_draws_as_mmdet_without_decoding():
    # 2 of every 3 records have no instance: several draws are needed.
    num_instances = [3 if i % 3 == 0 else 0 for i in range(50)]
    # Keep the transforms referenced: mmcv's @cache_randomness holds only a
    # weak reference to the instance (``MixUp().get_indexes`` would fail).
    ours_mixup, ref_mixup = MixUp(), MMDetMixUp()
    for seed in range(10):
        dataset = _AnnotationOnlyDataset(num_instances)
        np.random.seed(seed)
        ours = ours_mixup.get_indexes(dataset)
        ours_next = np.random.random()
        np.random.seed(seed)
        ref = ref_mixup.get_indexes(_AnnotationOnlyDataset(num_instances))
        assert ours == ref and num_instances[ours] > 0
        assert ours_next == np.random.random()
        assert dataset.getitem_calls == 0  # annotations only, no decode


def test_get_indexes_skips_ignore_only_records_unlike_mmdet():
    # Documented difference: a record whose instances are all ignored
    # (crowd) is not a partner for us; mmdet's image-based check accepts it.
    # Records 0-8 have only ignored instances, record 9 a normal one.
    dataset = _AnnotationOnlyDataset([2] * 10, ignore_all=range(9))
    np.random.seed(0)
    draws = [np.random.randint(0, 10) for _ in range(15)]
    assert draws[0] != 9 and 9 in draws  # holds for seed 0
    ours_mixup, ref_mixup = MixUp(), MMDetMixUp()
    np.random.seed(0)
    assert ref_mixup.get_indexes(dataset) == draws[0]
    np.random.seed(0)
    assert ours_mixup.get_indexes(dataset) == 9


def test_mixup_skips_when_mosaic_has_no_boxes_unlike_mmdet():
    # Documented difference (official YOLOX behaviour): no mixing into an
    # image without boxes; mmdet only checks the partner.
    def inputs():
        results = _random_pair(3)
        results['gt_bboxes'] = HorizontalBoxes(np.zeros((0, 4), np.float32))
        results['gt_bboxes_labels'] = np.zeros(0, np.int64)
        results['gt_ignore_flags'] = np.zeros(0, bool)
        return results

    results = inputs()
    img = results['img'].copy()
    np.random.seed(0)
    first_draw = np.random.random()
    np.random.seed(0)
    ours = MixUp(img_scale=(48, 40)).transform(results)
    assert np.random.random() == first_draw  # MixUp drew nothing
    np.testing.assert_array_equal(ours['img'], img)
    assert len(ours['gt_bboxes']) == 0
    ref = MMDetMixUp(img_scale=(48, 40)).transform(copy.deepcopy(inputs()))
    assert not np.array_equal(ref['img'], img)


def test_mixup_does_not_modify_partner():
    results = _random_pair(1)
    partner = results['mix_results'][0]
    boxes, img = partner['gt_bboxes'].tensor.clone(), partner['img'].copy()
    np.random.seed(0)
    MixUp(img_scale=(48, 40)).transform(results)
    assert torch.equal(partner['gt_bboxes'].tensor, boxes)
    np.testing.assert_array_equal(partner['img'], img)


def test_mixup_argument_errors():
    with pytest.raises(ValueError, match='img_scale'):
        MixUp(img_scale=[640])
    with pytest.raises(ValueError, match='ratio_range'):
        MixUp(ratio_range=(1.5, 0.5))
    with pytest.raises(ValueError, match='max_iters'):
        MixUp(max_iters=0)
    results = _random_pair(0)
    results['mix_results'] = results['mix_results'] * 2
    with pytest.raises(ValueError, match='1 dict'):
        MixUp().transform(results)


def test_blend_half_equals_float_mixing_for_every_pair():
    from yolox_mm.datasets.transforms.mixup import blend_half
    a, b = np.meshgrid(np.arange(256, dtype=np.uint8),
                       np.arange(256, dtype=np.uint8))
    expected = (0.5 * a.astype(np.float32) +
                0.5 * b.astype(np.float32)).astype(np.uint8)
    np.testing.assert_array_equal(blend_half(a, b), expected)
    np.testing.assert_array_equal(a, np.meshgrid(np.arange(256),
                                                 np.arange(256))[0])
    # every pair again in a 3-channel image whose width is not a multiple
    # of any SIMD width, and through a flipped view (negative stride)
    a3, b3 = np.resize(a, (97, 229, 3)), np.resize(b, (97, 229, 3))
    expected3 = ((a3.astype(np.uint16) + b3) // 2).astype(np.uint8)
    np.testing.assert_array_equal(blend_half(a3, b3), expected3)
    np.testing.assert_array_equal(blend_half(a3[:, ::-1], b3),
                                  (a3[:, ::-1].astype(np.uint16) + b3) // 2)


@pytest.mark.parametrize('mix_results, received',
                         [(None, 'None'), ([], '0'), ([{}, {}], '2')])
def test_mixup_needs_exactly_one_partner(mix_results, received):
    img = np.zeros((8, 8, 3), np.uint8)
    results = _sample(img, [[1, 1, 4, 4]], [0])
    if mix_results is not None:
        results['mix_results'] = mix_results
    with pytest.raises(ValueError) as info:
        MixUp().transform(results)
    assert str(info.value) == (
        'MixUp needs results["mix_results"] with 1 dict (from get_indexes '
        f'through the dataset wrapper), but received {received}')


@pytest.mark.parametrize('canvas_hw,offset', [((50, 70), (0, 0)),
                                              ((50, 70), (9, 4)),
                                              ((50, 70), (25, 15)),
                                              ((30, 20), (0, 0))])
@pytest.mark.parametrize('dtype', [np.float32, np.uint8])
def test_window_flips_only_the_window_as_flipping_the_canvas(
        canvas_hw, offset, dtype):
    # the definition: flip the whole canvas, then take the window
    canvas = np.random.RandomState(1).uniform(
        0, 255, canvas_hw + (3, )).astype(dtype)
    shape = (40, 45, 3)
    x_off, y_off = offset
    expected = np.full(shape, 114, np.uint8)
    visible = canvas[:, ::-1][y_off:y_off + 40, x_off:x_off + 45]
    expected[:visible.shape[0], :visible.shape[1]] = visible
    window = MixUp(img_scale=(45, 40))._window(canvas, shape, offset,
                                               flip=True)
    np.testing.assert_array_equal(window, expected)
