"""PlanarPackDetInputs against mmdet's PackDetInputs: the same inputs
(values, dtype, shape, contiguity) and data samples."""
import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmdet.structures.bbox import HorizontalBoxes

from yolox_mm.datasets.transforms import PlanarPackDetInputs
from yolox_mm.datasets.transforms.packing import chw_tensor


def _results(img):
    boxes = np.array([[1., 2., 5., 7.], [0., 0., 3., 3.]], dtype=np.float32)
    return dict(img=img, img_id=3, img_path='a.png', ori_shape=(9, 12),
                img_shape=img.shape[:2], scale_factor=(1., 1.), flip=False,
                flip_direction=None, gt_bboxes=HorizontalBoxes(boxes),
                gt_bboxes_labels=np.array([0, 2]),
                gt_ignore_flags=np.array([False, True]))


@pytest.mark.parametrize('shape,dtype', [((9, 12, 3), np.uint8),
                                         ((9, 12), np.uint8),
                                         ((9, 12, 1), np.float32),
                                         ((9, 12, 5), np.float64),
                                         ((9, 12, 3), np.float16),
                                         ((9, 12, 3), np.int64)])
@pytest.mark.parametrize('view', ['contiguous', 'flipped', 'cropped'])
def test_same_output_as_mmdet(shape, dtype, view):
    img = np.random.RandomState(0).uniform(0, 255, shape).astype(dtype)
    if view == 'flipped':  # mmcv's flip: a negative-stride view
        img = img[:, ::-1]
    elif view == 'cropped':  # a window view: rows not adjacent
        img = np.concatenate([img, img], axis=1)[:, 2:14]
    ours = PlanarPackDetInputs()(_results(img))
    ref = PackDetInputs()(_results(img))
    assert ours['inputs'].dtype == ref['inputs'].dtype
    assert ours['inputs'].shape == ref['inputs'].shape
    assert torch.equal(ours['inputs'], ref['inputs'])
    assert ours['inputs'].is_contiguous()
    a, b = ours['data_samples'], ref['data_samples']
    assert a.metainfo == b.metainfo
    for field in ('gt_instances', 'ignored_instances'):
        assert torch.equal(a.get(field).bboxes.tensor,
                           b.get(field).bboxes.tensor)
        assert torch.equal(a.get(field).labels, b.get(field).labels)


def test_chw_tensor_by_hand_and_new_memory():
    img = np.arange(2 * 3 * 2, dtype=np.uint8).reshape(2, 3, 2)
    out = chw_tensor(img)
    assert out.tolist() == [[[0, 2, 4], [6, 8, 10]],
                            [[1, 3, 5], [7, 9, 11]]]
    out[0, 0, 0] = 99  # a copy: the image is untouched
    assert img[0, 0, 0] == 0


def test_without_image_as_mmdet():
    results = _results(np.zeros((9, 12, 3), np.uint8))
    del results['img']
    ours = PlanarPackDetInputs()(results)
    assert 'inputs' not in ours
    assert ours['data_samples'].metainfo == PackDetInputs()(
        dict(results))['data_samples'].metainfo
