"""YOLOX MixUp: blend a jittered, flipped second image into the current one.

Box format everywhere in this module: ``xyxy`` in pixels, as mmdet
``HorizontalBoxes`` of shape ``[N, 4]`` (float32). The partner's input boxes
are in the pixels of the partner image; every output box is in the pixels of
``results['img']`` (the image being augmented, usually the H x W output of
Mosaic + RandomAffine).
"""
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmdet.structures.bbox import autocast_box_type

from yolox_mm.registry import TRANSFORMS
from .flip import contiguous_flip
from .mosaic import MOSAIC_SKIPPED, checked_mix_results, resize_keep_ratio


def has_trainable_instance(data_info: dict) -> bool:
    """Whether an annotation record has at least one non-ignored instance.

    Args:
        data_info: One record of an mmengine ``BaseDataset``
            (``dataset.get_data_info(i)``): ``instances`` is a list of dicts
            with ``bbox`` and an optional ``ignore_flag`` (1 for COCO crowd
            boxes).

    Returns:
        True if some instance has no ``ignore_flag`` or ``ignore_flag == 0``.
    """
    return any(not inst.get('ignore_flag', 0)
               for inst in data_info.get('instances', ()))


def blend_half(img: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``uint8(0.5 * img + 0.5 * other)``, the YOLOX mixing.

    For uint8 images this is ``floor((a + b) / 2)``, computed in one
    OpenCV pass as ``cv2.addWeighted(a, 0.5, b, 0.5, -0.25)``: OpenCV rounds
    ``0.5 a + 0.5 b - 0.25`` (exact in float32: every term is a multiple
    of 0.25) to the nearest integer, which is ``k`` for ``a + b = 2k``
    (``k - 0.25``) and for ``a + b = 2k + 1`` (``k + 0.25``); never a tie,
    so no rounding mode or SIMD path can change it. Equal to mmdet's
    float expression for every pair of values
    (``test_blend_half_equals_float_mixing_for_every_pair``) and ~3x faster
    than the four numpy passes of ``(a & b) + ((a ^ b) >> 1)``.

    Args:
        img: ``[H, W, C]`` image (usually uint8).
        other: uint8 image of the same shape.

    Returns:
        A new uint8 image.
    """
    if img.dtype == np.uint8 and other.dtype == np.uint8:
        return cv2.addWeighted(img, 0.5, other, 0.5, -0.25)
    return (0.5 * img.astype(np.float32) +
            0.5 * other.astype(np.float32)).astype(np.uint8)


@TRANSFORMS.register_module()
class MixUp(BaseTransform):
    """MixUp as in YOLOX: paste a jittered partner image, blend 0.5 / 0.5.

    ``(W, H) = img_scale``; ``(w_t, h_t)`` is the size of ``results['img']``.

    .. code:: text

        partner --letterbox--> W x H canvas (top-left, pad_val)
                --resize x jit--> (int(W*jit), int(H*jit))  [--flip]
                --crop (w_t, h_t) at a random offset (pad_val outside)-->
        out = floor(0.5 * results['img'] + 0.5 * crop)

        jittered partner canvas, padded with pad_val to >= h_t x w_t
          0                                       W'
        0 +---------------------------------------+
          |  partner image      |                 |
          |     +---------------+---+             |
          |     | window h_t x w_t  |             |
          |-----| top-left at       |     pad     |
          |     | (x_off, y_off)    |             |
          | pad +-------------------+             |
       H' +---------------------------------------+

    Steps (official YOLOX ``MosaicDetection.mixup``,
    ``yolox/data/datasets/mosaicdetection.py``; mmdet 3.3.0 ``MixUp`` has the
    same steps and random draws):

    1. ``jit = U(ratio_range)``; ``flip = U(0, 1) > flip_ratio``.
    2. The partner is resized (keep ratio, ``r = min(H/h, W/w)``) and pasted
       at the top-left of a ``W x H`` float32 canvas filled with
       ``pad_val``.
    3. The canvas is resized by ``jit``; flipped horizontally if ``flip``.
    4. A ``h_t x w_t`` window is cut at a random offset
       (``y_off = randint(0, H' - h_t)`` if ``H' > h_t``, then
       ``x_off = randint(0, W' - w_t)`` if ``W' > w_t``, where ``H', W'`` is
       the size of the jittered canvas padded with ``pad_val`` to at least
       the target size); its pixels are truncated to uint8.
    5. Partner boxes: ``* r * jit``, clipped to the jittered canvas, flipped,
       shifted by ``(-x_off, -y_off)``, clipped to ``w_t x h_t``.
    6. The image is ``floor(0.5 * img + 0.5 * window)`` (:func:`blend_half`),
       not a Beta-distributed weight. Boxes are concatenated (``results``
       first, then the partner's) and those not inside the image are
       dropped.

    Required Keys:

    - img (np.ndarray): ``[h_t, w_t, C]`` uint8.
    - gt_bboxes (HorizontalBoxes | np.ndarray): ``[N, 4]`` ``xyxy``, pixels
      of ``img``.
    - gt_bboxes_labels (np.ndarray): ``[N]`` int64.
    - gt_ignore_flags (np.ndarray): ``[N]`` bool.
    - mix_results (List[dict]): 1 dict (the partner) with the same keys; its
      boxes are in the pixels of its own image. It is read, never written.

    Modified Keys:

    - img: ``[h_t, w_t, C]`` uint8 (same size as the input).
    - img_shape: ``(h_t, w_t)``.
    - gt_bboxes: ``[N + K, 4]`` at most, ``xyxy``, pixels of ``img``.
    - gt_bboxes_labels, gt_ignore_flags: matching ``[N + K]``.

    Not applied (``results`` returned unchanged, no random draw) when
    ``results`` or the partner has no boxes, or to a sample that
    :class:`Mosaic` skipped (``results['mosaic_skipped']``: Megvii mixes
    only mosaic samples).

    Random draws (all ``np.random``, in this order): ``get_indexes``:
    ``randint(0, len(dataset))`` until a partner with a non-ignored
    annotation is found (at most ``max_iters`` draws); ``transform``:
    ``uniform(*ratio_range)``, ``uniform(0, 1)``, then ``randint`` for
    ``y_off`` and for ``x_off`` when the padded canvas is larger than the
    target.

    Raises ``ValueError`` for bad arguments, for ``mix_results`` without
    exactly 1 dict, and for images with different channel counts.
    Comparison with mmdet 3.3.0 ``MixUp`` (same boxes, image within 1
    grey level): ``docs/differences_from_mmdet.md``, "MixUp".

    Args:
        img_scale: ``(W, H)``, width first: the letterbox canvas the partner
            is fitted into before jittering; normally the network input size.
            Defaults to ``(640, 640)``.
        ratio_range: ``(low, high)`` range of the scale jitter ``jit``.
            Defaults to ``(0.5, 1.5)`` (mmdet's class default; mmdet and
            mmyolo YOLOX configs use ``(0.8, 1.6)``).
        flip_ratio: The partner is flipped when ``U(0, 1) > flip_ratio``,
            i.e. with probability ``1 - flip_ratio``. Defaults to 0.5.
        pad_val: Fill value of the canvases. Defaults to 114.0 (official
            YOLOX pads the crop canvas with 0).
        max_iters: Maximum number of index draws in :meth:`get_indexes`.
            Defaults to 15.
        bbox_clip_border: Clip the partner's boxes to the canvas and to the
            target image. Defaults to True.
        prob: Probability of mixing (Megvii's ``mixup_prob``). Defaults to
            1.0. The coin ``np.random.uniform(0, 1)`` is drawn only when
            ``prob < 1`` (after the checks above, before the other draws),
            so with the default the random stream is the one above.
    """

    def __init__(self,
                 img_scale: Tuple[int, int] = (640, 640),
                 ratio_range: Tuple[float, float] = (0.5, 1.5),
                 flip_ratio: float = 0.5,
                 pad_val: float = 114.0,
                 max_iters: int = 15,
                 bbox_clip_border: bool = True,
                 prob: float = 1.0) -> None:
        if (not isinstance(img_scale, Sequence) or len(img_scale) != 2
                or not all(isinstance(s, int) and s > 0 for s in img_scale)):
            raise ValueError('img_scale must be (width, height), two positive '
                             f'ints, but received {img_scale!r}')
        if (not isinstance(ratio_range, Sequence) or len(ratio_range) != 2
                or not 0 < ratio_range[0] <= ratio_range[1]):
            raise ValueError('ratio_range must be (low, high) with '
                             f'0 < low <= high, but received {ratio_range!r}')
        if not 0.0 <= flip_ratio <= 1.0:
            raise ValueError(
                f'flip_ratio must be in [0, 1], but received {flip_ratio!r}')
        if not isinstance(max_iters, int) or max_iters < 1:
            raise ValueError(
                f'max_iters must be an int >= 1, but received {max_iters!r}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], but received {prob!r}')
        self.prob = prob
        self.img_scale = tuple(img_scale)
        self.ratio_range = tuple(ratio_range)
        self.flip_ratio = flip_ratio
        self.pad_val = pad_val
        self.max_iters = max_iters
        self.bbox_clip_border = bbox_clip_border

    @cache_randomness
    def get_indexes(self, dataset) -> int:
        """Draw the partner's dataset index from its annotations only.

        Args:
            dataset: The wrapped dataset; needs ``len()`` and
                ``get_data_info(i)`` returning a record with ``instances``.

        Returns:
            The first drawn index whose record has a non-ignored instance, or
            the last drawn index after ``max_iters`` draws (as mmdet; then
            :meth:`transform` may skip mixing).
        """
        for _ in range(self.max_iters):
            index = np.random.randint(0, len(dataset))
            if has_trainable_instance(dataset.get_data_info(index)):
                break
        return index

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        """Mix the partner into ``results``; see the class docstring.

        Args:
            results: Result dict with ``mix_results`` (1 dict).

        Returns:
            ``results``, updated in place (unchanged if either image has no
            boxes).
        """
        partner = checked_mix_results(results, 1, 'MixUp')[0]
        if results.get(MOSAIC_SKIPPED, False):
            return results
        if len(partner['gt_bboxes']) == 0 or len(results['gt_bboxes']) == 0:
            return results
        if self.prob < 1.0 and np.random.uniform(0, 1) >= self.prob:
            return results
        jit = np.random.uniform(*self.ratio_range)
        flip = np.random.uniform(0, 1) > self.flip_ratio
        canvas, ratio = self._jittered_canvas(partner['img'], jit)
        img = results['img']
        offset = self._window_offset(canvas.shape[:2], img.shape[:2])
        if canvas.shape[2:] != img.shape[2:]:
            raise ValueError(
                'MixUp needs images with the same channels, but received '
                f'{img.shape} (results) and {partner["img"].shape} (partner)')
        window = self._window(canvas, img.shape, offset, flip)
        partner_boxes = self._partner_boxes(partner['gt_bboxes'], ratio,
                                            flip, canvas.shape[:2],
                                            img.shape[:2], offset)
        self._merge(results, blend_half(img, window), partner, partner_boxes)
        return results

    def _jittered_canvas(self, partner_img: np.ndarray, jit: float,
                         dtype: type = np.float32
                         ) -> Tuple[np.ndarray, float]:
        """Steps 1-2: letterbox the partner top-left into a ``W x H``
        canvas of ``pad_val`` (``dtype``: float32 as mmdet; uint8 rounds
        where float32 is later truncated, within 1 grey level) and resize
        it by ``jit`` (``(int(W * jit), int(H * jit))``, bilinear). Step 3,
        the flip, is done on the window only (:meth:`_window`).

        Returns:
            ``(canvas, ratio)``: the ``[H', W', C]`` canvas and the scale
            from partner pixels to canvas pixels (``r * jit``).
        """
        width, height = self.img_scale
        resized, ratio = resize_keep_ratio(partner_img, self.img_scale)
        canvas = np.full((height, width) + resized.shape[2:], self.pad_val,
                         dtype=dtype)
        canvas[:resized.shape[0], :resized.shape[1]] = resized
        canvas = cv2.resize(canvas, (int(width * jit), int(height * jit)),
                            interpolation=cv2.INTER_LINEAR)
        if canvas.ndim < resized.ndim:  # OpenCV drops a channel axis of 1
            canvas = canvas[..., None]
        return canvas, ratio * jit

    @staticmethod
    def _window_offset(canvas_hw: Tuple[int, int],
                       target_hw: Tuple[int, int]) -> Tuple[int, int]:
        """Step 4, the random draws: ``(x_off, y_off)`` of the window;
        ``y_off`` is drawn first, each only when the canvas is larger than
        the target along that axis (mmdet's order)."""
        (jit_h, jit_w), (target_h, target_w) = canvas_hw, target_hw
        y_off = x_off = 0
        if jit_h > target_h:
            y_off = np.random.randint(0, jit_h - target_h)
        if jit_w > target_w:
            x_off = np.random.randint(0, jit_w - target_w)
        return x_off, y_off

    def _window(self, canvas: np.ndarray, shape: tuple,
                offset: Tuple[int, int], flip: bool = False) -> np.ndarray:
        """Steps 3-4: the ``shape`` (the target image's) uint8 window at
        ``offset`` of the canvas flipped horizontally if ``flip``,
        ``pad_val`` where it leaves the canvas. Only the window is
        materialised and flipped (mmdet flips and pads the whole canvas
        first; the window's columns ``x_off .. x_off + w`` of the flipped
        canvas are the columns ``W' - x_off - w .. W' - x_off`` of the
        canvas, reversed: the same values). float32 -> uint8 truncates, as
        mmdet's float64 -> uint8 does."""
        x_off, y_off = offset
        window = np.full(shape, self.pad_val, dtype=np.uint8)
        rows = canvas[y_off:y_off + shape[0]]
        if flip:
            jit_w = canvas.shape[1]
            visible = contiguous_flip(
                rows[:, max(jit_w - x_off - shape[1], 0):jit_w - x_off])
        else:
            visible = rows[:, x_off:x_off + shape[1]]
        window[:visible.shape[0], :visible.shape[1]] = visible
        return window

    def _partner_boxes(self, boxes, ratio: float, flip: bool,
                       canvas_hw: Tuple[int, int], target_hw: Tuple[int, int],
                       offset: Tuple[int, int]):
        """Step 5: the partner's boxes (a clone; the input is not modified)
        scaled by ``ratio``, clipped to the canvas, flipped, shifted by
        ``-offset`` and clipped to the target (clipping only if
        ``bbox_clip_border``)."""
        boxes = boxes.clone()
        boxes.rescale_([ratio, ratio])
        if self.bbox_clip_border:
            boxes.clip_(canvas_hw)
        if flip:
            boxes.flip_(canvas_hw, direction='horizontal')
        boxes.translate_([-offset[0], -offset[1]])
        if self.bbox_clip_border:
            boxes.clip_(target_hw)
        return boxes

    @staticmethod
    def _merge(results: dict, mixed: np.ndarray, partner: dict,
               partner_boxes) -> None:
        """Step 6, annotations: write the mixed image; concatenate the
        boxes, labels and ignore flags (``results`` first, then the
        partner's) and drop the boxes not inside the image."""
        boxes = type(partner_boxes).cat([results['gt_bboxes'], partner_boxes],
                                        dim=0)
        labels = np.concatenate(
            (results['gt_bboxes_labels'], partner['gt_bboxes_labels']), 0)
        ignore_flags = np.concatenate(
            (results['gt_ignore_flags'], partner['gt_ignore_flags']), 0)
        inside = boxes.is_inside(mixed.shape[:2]).numpy()
        results['img'] = mixed
        results['img_shape'] = mixed.shape[:2]
        results['gt_bboxes'] = boxes[inside]
        results['gt_bboxes_labels'] = labels[inside]
        results['gt_ignore_flags'] = ignore_flags[inside]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(img_scale={self.img_scale}, '
                f'ratio_range={self.ratio_range}, '
                f'flip_ratio={self.flip_ratio}, pad_val={self.pad_val}, '
                f'max_iters={self.max_iters}, '
                f'bbox_clip_border={self.bbox_clip_border}, '
                f'prob={self.prob})')
