"""ContiguousRandomFlip against mmdet's RandomFlip: same draws, boxes and
pixels, a contiguous image."""
import numpy as np
import pytest
from mmdet.datasets.transforms import RandomFlip
from mmdet.structures.bbox import HorizontalBoxes

from yolox_mm.datasets.transforms import ContiguousRandomFlip


def _results(img):
    return dict(img=img, img_shape=img.shape[:2],
                gt_bboxes=HorizontalBoxes(np.array([[1., 2., 5., 7.]],
                                                   dtype=np.float32)),
                gt_bboxes_labels=np.array([0]),
                gt_ignore_flags=np.array([False]))


@pytest.mark.parametrize('shape,dtype', [((9, 12, 3), np.uint8),
                                         ((9, 12), np.uint8),
                                         ((9, 12, 1), np.float32),
                                         ((9, 12, 5), np.float32),
                                         ((9, 12, 3), np.float64)])
@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_same_output_as_mmdet_and_contiguous(shape, dtype, direction):
    img = np.random.RandomState(0).uniform(0, 255, shape).astype(dtype)
    ours = ContiguousRandomFlip(prob=1.0, direction=direction)(
        _results(img.copy()))
    ref = RandomFlip(prob=1.0, direction=direction)(_results(img.copy()))
    assert ours['img'].shape == ref['img'].shape == shape
    np.testing.assert_array_equal(ours['img'], ref['img'])
    assert ours['img'].flags.c_contiguous
    assert not ref['img'].flags.c_contiguous  # mmcv's np.flip view
    np.testing.assert_array_equal(ours['gt_bboxes'].numpy(),
                                  ref['gt_bboxes'].numpy())
    np.testing.assert_array_equal(ours['homography_matrix'],
                                  ref['homography_matrix'])
    assert ours['flip'] and ours['flip_direction'] == direction


def test_same_draws_as_mmdet():
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    flips = {}
    for name, cls in (('ours', ContiguousRandomFlip), ('mmdet', RandomFlip)):
        np.random.seed(3)
        t = cls(prob=0.5)
        flips[name] = [t(_results(img.copy()))['flip'] for _ in range(40)]
        flips[name].append(np.random.randint(1 << 30))  # stream in step
    assert flips['ours'] == flips['mmdet']
    assert 5 < sum(flips['ours'][:40]) < 35  # both outcomes occur
