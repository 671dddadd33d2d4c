"""resize_window: a window of cv2.resize (bilinear), bit for bit, computed
from a part of the image when the scale is a dyadic fraction."""
import cv2
import numpy as np
import pytest

from yolox_mm.datasets.transforms import resize_window as rw


def _full_window(img, new_wh, window):
    x0, y0, x1, y1 = window
    whole = cv2.resize(img, new_wh, interpolation=cv2.INTER_LINEAR)
    if whole.ndim < img.ndim:
        whole = whole[..., None]
    return whole[y0:y1, x0:x1]


def test_dyadic_block_by_hand():
    assert rw.dyadic_block(400, 640) == (5, 8)      # 0.625
    assert rw.dyadic_block(500, 640) == (25, 32)
    assert rw.dyadic_block(1280, 640) == (2, 1)
    assert rw.dyadic_block(640, 640) == (1, 1)
    assert rw.dyadic_block(427, 640) is None        # 427 / 640: 5 | 640
    assert rw.dyadic_block(640, 912) is None        # 40 / 57


def test_block_span_by_hand():
    # 400 -> 640 (5 / 8): output 20..29 -> blocks [16, 32) widened by one
    # block each side -> [8, 40), input [5, 25)
    assert rw.block_span(20, 30, 400, 640, (5, 8)) == (8, 40, 5, 25)
    # at the image's own edges the span is cut there, input to the end
    assert rw.block_span(0, 640, 400, 640, (5, 8)) == (0, 640, 0, 400)
    assert rw.block_span(630, 640, 400, 640, (5, 8)) == (616, 640, 385, 400)


@pytest.mark.parametrize('src_wh, new_wh', [
    ((400, 400), (640, 640)), ((500, 375), (640, 480)),
    ((1280, 960), (640, 480)), ((5, 10), (640, 1280)),
    ((427, 640), (427, 640 * 2)), ((427, 300), (640, 449))])
@pytest.mark.parametrize('channels', [None, 1, 3])
def test_window_equals_the_whole_resize(src_wh, new_wh, channels):
    rng = np.random.default_rng(sum(src_wh) + (channels or 0))
    shape = (src_wh[1], src_wh[0]) + (() if channels is None else
                                      (channels, ))
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    windows = [(0, 0) + new_wh, (0, 0, 1, 1),
               (new_wh[0] - 1, new_wh[1] - 1) + new_wh]
    for _ in range(20):
        x0, y0 = (int(rng.integers(0, n)) for n in new_wh)
        windows.append((x0, y0, int(rng.integers(x0 + 1, new_wh[0] + 1)),
                        int(rng.integers(y0 + 1, new_wh[1] + 1))))
    for window in windows:
        got = rw.resize_window(img, new_wh, window)
        np.testing.assert_array_equal(got, _full_window(img, new_wh, window),
                                      err_msg=str(window))


def test_a_small_window_resizes_only_a_part(monkeypatch):
    sizes = []
    real = cv2.resize

    def recording(img, dsize, **kw):
        sizes.append((img.shape[1], img.shape[0], dsize))
        return real(img, dsize, **kw)

    monkeypatch.setattr(rw.cv2, 'resize', recording)
    img = np.random.default_rng(0).integers(0, 256, (400, 400, 3), np.uint8)
    rw.resize_window(img, (640, 640), (100, 200, 150, 260))
    # blocks of 8 output px: x [88, 160), y [192, 272) -> input 45 x 50
    assert sizes == [(45, 50, (72, 80))]
    rw.resize_window(img, (640, 427), (100, 200, 150, 260))  # not dyadic
    assert sizes[-1] == (400, 400, (640, 427))


@pytest.mark.parametrize('window', [(5, 5, 5, 9), (0, 0, 641, 10),
                                    (-1, 0, 4, 4)])
def test_bad_window_raises(window):
    img = np.zeros((400, 400, 3), np.uint8)
    with pytest.raises(ValueError, match=r'non-empty window inside'):
        rw.resize_window(img, (640, 640), window)
