"""LUTYOLOXHSVRandomAug against mmdet's YOLOXHSVRandomAug."""
import numpy as np
import pytest
from mmdet.datasets.transforms import YOLOXHSVRandomAug

from yolox_mm.datasets.transforms import LUTYOLOXHSVRandomAug
from yolox_mm.datasets.transforms.hsv_lut import hsv_tables


def test_tables_by_hand():
    table = hsv_tables(np.array([-5, 30, -30], dtype=np.int16))[:, 0]
    # hue: (0 - 5) % 180 = 175, (179 - 5) % 180 = 174; sat 250 + 30 -> 255;
    # value 10 - 30 -> 0
    assert table[0, 0] == 175 and table[179, 0] == 174
    assert table[250, 1] == 255 and table[10, 2] == 0 and table[100, 2] == 70


@pytest.mark.parametrize('seed', range(6))
def test_same_draws_same_pixels_as_mmdet(seed):
    img = np.random.RandomState(seed).randint(0, 256, (37, 53, 3),
                                              dtype=np.uint8)
    outs = []
    for transform in (YOLOXHSVRandomAug(), LUTYOLOXHSVRandomAug()):
        np.random.seed(seed)
        out = transform.transform(dict(img=img.copy()))['img']
        outs.append((out, np.random.randint(1 << 30)))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    assert outs[0][1] == outs[1][1]


def test_rejects_float_images():
    with pytest.raises(ValueError, match='uint8'):
        LUTYOLOXHSVRandomAug().transform(
            dict(img=np.zeros((4, 4, 3), np.float32)))
