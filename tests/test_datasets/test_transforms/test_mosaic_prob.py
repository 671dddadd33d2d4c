"""Mosaic / MixUp ``prob`` (Megvii's ``mosaic_prob`` / ``mixup_prob``):
probability 0 / 1 / 0.5, the skipped sample's path (no RandomAffine, no
MixUp: only the plain-image steps), and the random stream."""
import numpy as np
import pytest

from yolox_mm.datasets.transforms import (MOSAIC_SKIPPED, MixUp, Mosaic,
                                          RandomAffine)

from .test_mixup import _random_pair
from .test_mosaic import _random_inputs

SCALE = (48, 40)  # (W, H)


def _mosaic(prob, seed):
    np.random.seed(seed)
    inputs = _random_inputs(seed)
    img = inputs['img']
    out = Mosaic(img_scale=SCALE, prob=prob).transform(inputs)
    return img, out


def test_prob_1_always_tiles_and_prob_0_never():
    for seed in range(5):
        _, out = _mosaic(1.0, seed)
        assert out['img'].shape[:2] == (2 * SCALE[1], 2 * SCALE[0])
        assert MOSAIC_SKIPPED not in out
        img, out = _mosaic(0.0, seed)
        assert out['img'] is img and out[MOSAIC_SKIPPED] is True


def test_prob_half_follows_the_coin():
    """The decision is the first draw: tiled iff ``U(0, 1) <= 0.5``; over
    200 samples about half are tiled (binomial: 100 +- 7)."""
    tiled = 0
    for seed in range(200):
        np.random.seed(seed)
        coin = np.random.uniform(0, 1)
        _, out = _mosaic(0.5, seed)
        assert (MOSAIC_SKIPPED not in out) == (coin <= 0.5)
        tiled += MOSAIC_SKIPPED not in out
    assert 70 <= tiled <= 130


def test_coin_is_drawn_whatever_prob():
    """One coin per call for any prob, so the stream after a tiled sample is
    the same at prob 1 and 0.5 (the main job's stream is unchanged)."""
    for seed in range(20):
        np.random.seed(seed)
        coin = np.random.uniform(0, 1)
        if coin > 0.5:
            continue
        _, full = _mosaic(1.0, seed)
        after_full = np.random.random()
        _, half = _mosaic(0.5, seed)
        after_half = np.random.random()
        np.testing.assert_array_equal(full['img'], half['img'])
        assert after_full == after_half


def test_skipped_sample_skips_affine_and_mixup():
    _, out = _mosaic(0.0, 3)
    before = out['img'].copy(), out['gt_bboxes'].tensor.clone()
    affine = RandomAffine(border=(-SCALE[0] // 2, -SCALE[1] // 2))
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    out = affine.transform(out)
    out['mix_results'] = _random_pair(0)['mix_results']
    out = MixUp(img_scale=SCALE).transform(out)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # no draw
    np.testing.assert_array_equal(out['img'], before[0])
    assert (out['gt_bboxes'].tensor == before[1]).all()
    # on a tiled sample our RandomAffine is mmdet's: it changes the image
    _, tiled = _mosaic(1.0, 3)
    assert affine.transform(tiled)['img'].shape[:2] == (SCALE[1], SCALE[0])


def test_mixup_prob():
    # prob 1 (default): no coin, the same stream and output as before
    np.random.seed(4)
    ref = MixUp(img_scale=SCALE).transform(_random_pair(4))
    ref_next = np.random.random()
    np.random.seed(4)
    out = MixUp(img_scale=SCALE, prob=1.0).transform(_random_pair(4))
    assert np.random.random() == ref_next
    np.testing.assert_array_equal(out['img'], ref['img'])
    # prob 0: exactly one draw (the coin), nothing mixed
    np.random.seed(4)
    pair = _random_pair(4)
    img = pair['img'].copy()
    out = MixUp(img_scale=SCALE, prob=0.0).transform(pair)
    after = np.random.random()
    np.random.seed(4)
    np.random.uniform(0, 1)
    assert np.random.random() == after
    np.testing.assert_array_equal(out['img'], img)
    with pytest.raises(ValueError, match='prob'):
        MixUp(prob=1.5)
