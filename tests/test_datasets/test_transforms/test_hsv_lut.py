"""LUTYOLOXHSVRandomAug against mmdet's YOLOXHSVRandomAug."""
import cv2
import numpy as np
import pytest
from mmdet.datasets.transforms import YOLOXHSVRandomAug

from yolox_mm.datasets.transforms import LUTYOLOXHSVRandomAug
from yolox_mm.datasets.transforms.hsv_lut import hsv_tables, shift_hsv


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


def test_opencv_hue_is_below_180_for_every_colour():
    """The premise of leaving a channel with zero gain as it is: mmdet's
    ``(h + 0) % 180`` is ``h`` only for ``h < 180``."""
    v = np.arange(1 << 24, dtype=np.uint32)
    img = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255],
                   axis=-1).astype(np.uint8).reshape(4096, 4096, 3)
    assert cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[..., 0].max() == 179


@pytest.mark.parametrize('gains', [(0, 0, 0), (-5, 0, 0), (4, 0, 0),
                                   (0, 30, 0), (0, -30, 0), (0, 0, 255),
                                   (0, 0, -255), (5, -17, 22),
                                   (-3, 255, -1), (179, -256, 300)])
def test_shift_hsv_equals_mmdets_int16_arithmetic(gains):
    rng = np.random.RandomState(sum(gains) % 97)
    # every hue 0-179 and every saturation / value 0-255 occurs
    hsv = np.stack([np.tile(np.arange(180), 256 * 3)[:256 * 180],
                    np.tile(np.arange(256), 180),
                    rng.permutation(np.tile(np.arange(256), 180))],
                   axis=-1).astype(np.uint8).reshape(180, 256, 3)
    gains = np.array(gains, dtype=np.int16)
    expected = hsv.astype(np.int16)
    expected[..., 0] = (expected[..., 0] + gains[0]) % 180
    expected[..., 1] = np.clip(expected[..., 1] + gains[1], 0, 255)
    expected[..., 2] = np.clip(expected[..., 2] + gains[2], 0, 255)
    shift_hsv(hsv, gains)
    np.testing.assert_array_equal(hsv, expected.astype(np.uint8))
