"""Tests of yolox_mm Mosaic: hand-derived placement and parity with mmdet."""
import copy

import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import Mosaic as MMDetMosaic
from mmdet.structures.bbox import HorizontalBoxes

from yolox_mm.datasets.transforms import Mosaic
from yolox_mm.datasets.transforms.mosaic import mosaic_placement


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


def _fixed_draws(monkeypatch, values):
    """Make np.random.uniform return ``values`` in order, ignoring its args."""
    draws = iter(values)
    monkeypatch.setattr(np.random, 'uniform',
                        lambda low=0.0, high=1.0, size=None: next(draws))
    return draws


def test_mosaic_known_centre_places_boxes_and_pixels(monkeypatch):
    # img_scale (W, H) = (64, 48): canvas 128 wide x 96 high.
    # Draws: 0.0 for the probability (0.0 > prob is False -> apply), then
    # cx = int(0.75 * 64) = 48 and cy = int(1.25 * 48) = 60.
    draws = _fixed_draws(monkeypatch, [0.0, 0.75, 1.25])
    rng = np.random.default_rng(0)
    img0 = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)  # h x w
    img1 = rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)
    img2 = np.zeros((24, 32, 3), dtype=np.uint8)
    img2[2:12, 8:22] = (10, 200, 30)  # a solid block, rows 2-11, cols 8-21
    img3 = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)

    results = _sample(img0, [[20, 10, 40, 30], [2, 2, 12, 12]], [0, 1])
    results['mix_results'] = [
        _sample(img1, [[10, 5, 30, 25]], [2], ignore=[True]),
        _sample(img2, [[10, 4, 20, 10]], [3]),
        _sample(img3, [[5, 30, 20, 44], [5, 40, 20, 47]], [4, 5]),
    ]
    out = Mosaic(img_scale=(64, 48)).transform(results)
    assert next(draws, None) is None  # exactly 3 uniform draws

    # Image 0, top-left, 64x48 -> scale 1 (no resize).
    #   paste x: max(48 - 64, 0) = 0 .. 48, y: max(60 - 48, 0) = 12 .. 60
    #   crop  x: 64 - 48 = 16 .. 64,        y: 48 - 48 = 0 .. 48
    #   shift (dx, dy) = (0 - 16, 12 - 0) = (-16, 12)
    #   box (20, 10, 40, 30) -> (4, 22, 24, 42)
    #   box (2, 2, 12, 12) -> (-14, 14, -4, 24) -> clip (0, 14, 0, 24): x2 = 0
    #   is not > 0, so it is dropped.
    # Image 1, top-right, 64x40 -> scale min(48/40, 64/64) = 1.
    #   paste x: 48 .. min(48 + 64, 128) = 112, y: max(60 - 40, 0) = 20 .. 60
    #   crop  x: 0 .. min(64, 64) = 64,         y: 40 - 40 = 0 .. 40
    #   shift (48, 20): box (10, 5, 30, 25) -> (58, 25, 78, 45)
    # Image 2, bottom-left, 32x24 -> scale min(48/24, 64/32) = 2 -> 64x48.
    #   paste x: max(48 - 64, 0) = 0 .. 48, y: 60 .. min(60 + 48, 96) = 96
    #   crop  x: 64 - 48 = 16 .. 64,        y: 0 .. min(36, 48) = 36
    #   shift (-16, 60): box (10, 4, 20, 10) * 2 = (20, 8, 40, 20)
    #   -> (4, 68, 24, 80)
    # Image 3, bottom-right, 64x48 -> scale 1.
    #   paste x: 48 .. 112, y: 60 .. min(60 + 48, 96) = 96
    #   crop  x: 0 .. 64,   y: 0 .. 36;  shift (48, 60)
    #   box (5, 30, 20, 44) -> (53, 90, 68, 104) -> clip y to 96 -> (53, 90,
    #   68, 96);  box (5, 40, 20, 47) -> (53, 100, 68, 107) -> clip ->
    #   (53, 96, 68, 96): y1 = 96 is not < 96, dropped.
    expected_boxes = torch.tensor(
        [[4, 22, 24, 42], [58, 25, 78, 45], [4, 68, 24, 80],
         [53, 90, 68, 96]],
        dtype=torch.float32)
    assert isinstance(out['gt_bboxes'], HorizontalBoxes)
    assert torch.equal(out['gt_bboxes'].tensor, expected_boxes)
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [0, 2, 3, 4])
    np.testing.assert_array_equal(out['gt_ignore_flags'],
                                  [False, True, False, False])

    canvas = out['img']
    assert canvas.shape == (96, 128, 3) and canvas.dtype == np.uint8
    assert out['img_shape'] == (96, 128)
    # The pixels inside each kept box are the source pixels of that box.
    np.testing.assert_array_equal(canvas[22:42, 4:24], img0[10:30, 20:40])
    np.testing.assert_array_equal(canvas[25:45, 58:78], img1[5:25, 10:30])
    np.testing.assert_array_equal(canvas[90:96, 53:68], img3[30:36, 5:20])
    # Image 2 was upscaled x2 (bilinear): canvas rows 68..79 / cols 4..23
    # come from source rows 3.75..9.25 / cols 9.75..19.25, all inside the
    # solid block, so they keep its exact colour.
    assert (canvas[68:80, 4:24] == (10, 200, 30)).all()
    # Whole pasted regions and the padding.
    np.testing.assert_array_equal(canvas[12:60, 0:48], img0[:, 16:64])
    np.testing.assert_array_equal(canvas[20:60, 48:112], img1)
    np.testing.assert_array_equal(canvas[60:96, 48:112], img3[:36])
    assert (canvas[0:12, 0:48] == 114).all()
    assert (canvas[0:20, 48:] == 114).all()
    assert (canvas[:, 112:] == 114).all()


def test_mosaic_does_not_modify_its_inputs(monkeypatch):
    _fixed_draws(monkeypatch, [0.0, 1.0, 1.0])
    imgs = [np.full((30, 40, 3), i * 50, dtype=np.uint8) for i in range(4)]
    samples = [
        _sample(img, [[1, 2, 11, 12]], [i]) for i, img in enumerate(imgs)
    ]
    results = samples[0]
    results['mix_results'] = samples[1:]
    before = [(s['img'].copy(), s['gt_bboxes'].tensor.clone())
              for s in samples]
    Mosaic(img_scale=(32, 32)).transform(results)
    for (img, boxes), sample in zip(before[1:], samples[1:]):
        np.testing.assert_array_equal(sample['img'], img)
        assert torch.equal(sample['gt_bboxes'].tensor, boxes)
    np.testing.assert_array_equal(imgs[0], before[0][0])


def test_mosaic_placement_full_canvas_corners():
    # Centre (10, 8) on a 40x30 canvas with a 16x12 patch:
    # top-left paste (max(10-16,0)=0, max(8-12,0)=0, 10, 8), crop the
    # bottom-right 10x8 of the patch: (16-10, 12-8, 16, 12) = (6, 4, 16, 12).
    assert mosaic_placement('top_left', (10, 8), (16, 12),
                            (40, 30)) == ((0, 0, 10, 8), (6, 4, 16, 12))
    # bottom-right paste (10, 8, 26, 20), whole patch.
    assert mosaic_placement('bottom_right', (10, 8), (16, 12),
                            (40, 30)) == ((10, 8, 26, 20), (0, 0, 16, 12))
    with pytest.raises(ValueError, match='middle'):
        mosaic_placement('middle', (10, 8), (16, 12), (40, 30))


def _random_inputs(seed):
    """4 images of random sizes with random boxes, some partly outside."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(4):
        h, w = rng.integers(20, 90, 2)
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        n = rng.integers(0, 5)
        xy = rng.uniform(-10, [w, h], (n, 2))
        wh = rng.uniform(2, 40, (n, 2))
        boxes = np.concatenate([xy, xy + wh], axis=1)
        samples.append(
            _sample(img, boxes, rng.integers(0, 80, n), rng.random(n) < 0.2))
    results = samples[0]
    results['mix_results'] = samples[1:]
    return results


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('prob', [1.0, 0.5])
def test_mosaic_matches_mmdet_for_same_seed(seed, prob):
    kwargs = dict(img_scale=(48, 40), center_ratio_range=(0.5, 1.5), prob=prob)
    np.random.seed(seed)
    ours = Mosaic(**kwargs).transform(_random_inputs(seed))
    ours_next = np.random.random()
    np.random.seed(seed)
    ref = MMDetMosaic(**kwargs).transform(_random_inputs(seed))
    ref_next = np.random.random()

    assert ours_next == ref_next  # same number of draws
    np.testing.assert_array_equal(ours['img'], ref['img'])
    assert ours['img_shape'] == ref['img_shape']
    assert torch.equal(ours['gt_bboxes'].tensor, ref['gt_bboxes'].tensor)
    np.testing.assert_array_equal(ours['gt_bboxes_labels'],
                                  ref['gt_bboxes_labels'])
    np.testing.assert_array_equal(ours['gt_ignore_flags'],
                                  ref['gt_ignore_flags'])


def test_mosaic_numpy_boxes_match_mmdet():
    def inputs():
        results = _random_inputs(7)
        for sample in [results, *results['mix_results']]:
            sample['gt_bboxes'] = sample['gt_bboxes'].numpy()
        return results

    np.random.seed(3)
    ours = Mosaic(img_scale=(48, 40)).transform(inputs())
    np.random.seed(3)
    ref = MMDetMosaic(img_scale=(48, 40)).transform(copy.deepcopy(inputs()))
    assert isinstance(ours['gt_bboxes'], np.ndarray)
    np.testing.assert_array_equal(ours['gt_bboxes'], ref['gt_bboxes'])
    np.testing.assert_array_equal(ours['img'], ref['img'])


def test_get_indexes_matches_mmdet():
    dataset = list(range(37))
    ours_mosaic, ref_mosaic = Mosaic(), MMDetMosaic()  # see test_mixup.py
    for seed in range(3):
        np.random.seed(seed)
        ours = ours_mosaic.get_indexes(dataset)
        ours_next = np.random.random()
        np.random.seed(seed)
        ref = ref_mosaic.get_indexes(dataset)
        assert ours == ref and len(ours) == 3
        assert ours_next == np.random.random()


def test_mosaic_argument_errors():
    with pytest.raises(ValueError, match='img_scale'):
        Mosaic(img_scale=(640, ))
    with pytest.raises(ValueError, match='prob'):
        Mosaic(prob=1.5)
    with pytest.raises(ValueError, match='center_ratio_range'):
        Mosaic(center_ratio_range=(1.5, 0.5))
    results = _random_inputs(0)
    results['mix_results'] = results['mix_results'][:2]
    with pytest.raises(ValueError, match='3 dicts'):
        Mosaic().transform(results)
