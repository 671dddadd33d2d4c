"""A window of a bilinear ``cv2.resize``, computed without the rest of it.

``resize_window(img, new_wh, window)`` equals
``cv2.resize(img, new_wh, interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]``
bit for bit. When the scale ``w / new_w`` (and ``h / new_h``) is a fraction
``p / q`` whose denominator is a power of two (400 -> 640 is 5 / 8, 500 ->
640 is 25 / 32, 1280 -> 640 is 2 / 1), the resize repeats itself every
``q`` output pixels (``p`` input pixels): OpenCV maps an output pixel ``x``
to ``(x + 0.5) p / q - 0.5``, which is exact in binary floating point for
such a scale, so resizing the input columns ``[k p, ...)`` to the output
columns ``[k q, ...)`` gives the same interpolation weights and the same
pixels as the whole resize does there. The window is widened to whole
blocks plus one block on each side (so that OpenCV's clamping at the edge
of the part never reaches the window), resized, and cut. Other scales
resize the whole image and return the window of it (a view).

Used by :class:`~yolox_mm.datasets.transforms.FusedMosaicAffineMixUp`, which
needs only the part of a resized mosaic source that reaches the output
canvas.
"""
from fractions import Fraction
from typing import Optional, Tuple

import cv2
import numpy as np

#: ``(x0, y0, x1, y1)``: output pixels ``x0 .. x1 - 1``, ``y0 .. y1 - 1``.
Window = Tuple[int, int, int, int]


def dyadic_block(size: int, new_size: int) -> Optional[Tuple[int, int]]:
    """``(p, q)`` with ``size / new_size = p / q`` in lowest terms, if ``q``
    is a power of two (the resize is periodic with ``q`` output pixels per
    ``p`` input pixels, and its pixel map is exact); else None."""
    scale = Fraction(size, new_size)
    q = scale.denominator
    return (scale.numerator, q) if q & (q - 1) == 0 else None


def block_span(lo: int, hi: int, size: int, new_size: int,
               block: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """Along one axis: output pixels ``[b0, b1)`` (whole blocks around
    ``[lo, hi)`` plus one block each side, cut to ``[0, new_size)``) and the
    input pixels ``[a0, a1)`` that the resize maps onto them."""
    p, q = block
    b0 = max(0, (lo // q - 1) * q)
    b1 = min(new_size, (-(-hi // q) + 1) * q)
    a1 = size if b1 == new_size else b1 * p // q
    return b0, b1, b0 * p // q, a1


def resize_window(img: np.ndarray, new_wh: Tuple[int, int],
                  window: Window) -> np.ndarray:
    """``cv2.resize(img, new_wh, interpolation=cv2.INTER_LINEAR)`` inside
    ``window`` only, bit for bit (see the module docstring).

    Args:
        img: ``[h, w]`` or ``[h, w, C]`` image.
        new_wh: ``(new_w, new_h)``, the size of the whole resize (pixels).
        window: ``(x0, y0, x1, y1)`` in pixels of the resized image, with
            ``0 <= x0 < x1 <= new_w`` and ``0 <= y0 < y1 <= new_h``.

    Returns:
        The ``[y1 - y0, x1 - x0(, C)]`` window (a view of a new array).

    Raises:
        ValueError: if ``window`` is empty or not inside ``new_wh``.
    """
    x0, y0, x1, y1 = window
    new_w, new_h = new_wh
    if not (0 <= x0 < x1 <= new_w and 0 <= y0 < y1 <= new_h):
        raise ValueError(f'resize_window needs a non-empty window inside '
                         f'{new_wh} (w, h), but received {window}')
    h, w = img.shape[:2]
    block_x, block_y = dyadic_block(w, new_w), dyadic_block(h, new_h)
    if block_x is None or block_y is None:
        whole = cv2.resize(img, new_wh, interpolation=cv2.INTER_LINEAR)
        return _with_channels(whole, img)[y0:y1, x0:x1]
    bx0, bx1, ax0, ax1 = block_span(x0, x1, w, new_w, block_x)
    by0, by1, ay0, ay1 = block_span(y0, y1, h, new_h, block_y)
    part = cv2.resize(img[ay0:ay1, ax0:ax1], (bx1 - bx0, by1 - by0),
                      interpolation=cv2.INTER_LINEAR)
    return _with_channels(part, img)[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0]


def _with_channels(resized: np.ndarray, img: np.ndarray) -> np.ndarray:
    """OpenCV drops a trailing channel axis of 1; put it back."""
    return resized[..., None] if resized.ndim < img.ndim else resized
