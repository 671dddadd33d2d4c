"""Mosaic: four training images on one 2H x 2W canvas (YOLOX stage 1).

Box format everywhere in this module: ``xyxy`` in pixels, as mmdet
``HorizontalBoxes`` of shape ``[N, 4]`` (float32). Input boxes are in the
pixels of their own (un-resized) image; output boxes are in the pixels of the
2H x 2W mosaic canvas.
"""
from typing import List, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmdet.structures.bbox import autocast_box_type

from yolox_mm.registry import TRANSFORMS

# The order of the four places is also the order of the inputs:
# ``results`` itself goes top-left, ``mix_results[0..2]`` go to the others.
MOSAIC_PLACES = ('top_left', 'top_right', 'bottom_left', 'bottom_right')

_ANN_KEYS = ('gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags')

#: Key that :class:`Mosaic` sets to True in a sample it did not tile
#: (``prob < 1``); our ``RandomAffine`` and :class:`MixUp` then leave the
#: sample alone, as Megvii's ``MosaicDetection`` does.
MOSAIC_SKIPPED = 'mosaic_skipped'


def mosaic_placement(
    place: str,
    center_xy: Tuple[int, int],
    patch_wh: Tuple[int, int],
    canvas_wh: Tuple[int, int],
) -> Tuple[Tuple[int, int, int, int], Tuple[int, int, int, int]]:
    """Where a (resized) patch goes on the mosaic canvas, and which part of it.

    Each patch touches the mosaic centre with one of its corners: the
    top-left patch with its bottom-right corner, the top-right patch with its
    bottom-left corner, and so on. Whatever falls outside the canvas is cut.

    Args:
        place: One of :data:`MOSAIC_PLACES`.
        center_xy: Mosaic centre ``(x, y)``, pixels of the canvas.
        patch_wh: Size ``(w, h)`` of the resized patch, pixels.
        canvas_wh: Size ``(w, h)`` of the canvas, i.e. ``(2W, 2H)``.

    Returns:
        ``(paste_xyxy, crop_xyxy)``: the canvas rectangle that receives
        pixels and the patch rectangle they come from; both are ``x1, y1,
        x2, y2`` with exclusive ``x2, y2`` and have the same size. A patch
        pixel ``(x, y)`` lands at canvas pixel ``(x + dx, y + dy)`` with
        ``dx = paste_x1 - crop_x1`` and ``dy = paste_y1 - crop_y1``.
    """
    cx, cy = center_xy
    w, h = patch_wh
    canvas_w, canvas_h = canvas_wh
    if place == 'top_left':
        paste = (max(cx - w, 0), max(cy - h, 0), cx, cy)
        crop = (w - (paste[2] - paste[0]), h - (paste[3] - paste[1]), w, h)
    elif place == 'top_right':
        paste = (cx, max(cy - h, 0), min(cx + w, canvas_w), cy)
        crop = (0, h - (paste[3] - paste[1]), min(w, paste[2] - paste[0]), h)
    elif place == 'bottom_left':
        paste = (max(cx - w, 0), cy, cx, min(cy + h, canvas_h))
        crop = (w - (paste[2] - paste[0]), 0, w, min(paste[3] - paste[1], h))
    elif place == 'bottom_right':
        paste = (cx, cy, min(cx + w, canvas_w), min(cy + h, canvas_h))
        crop = (0, 0, min(w, paste[2] - paste[0]),
                min(paste[3] - paste[1], h))
    else:
        raise ValueError(
            f'place must be one of {MOSAIC_PLACES}, but received {place!r}')
    return paste, crop


def resize_keep_ratio(img: np.ndarray,
                      max_wh: Tuple[int, int]) -> Tuple[np.ndarray, float]:
    """Resize ``img`` to fit inside ``max_wh``, keeping its aspect ratio.

    The output size is ``(int(w * r), int(h * r))`` with
    ``r = min(max_w / w, max_h / h)``: the same sizes and the same bilinear
    interpolation as mmdet's ``mmcv.imresize`` call, so pixels are
    identical. When the size does not change the input is returned as is
    (OpenCV would only copy it).

    Args:
        img: ``[h, w]`` or ``[h, w, C]`` image.
        max_wh: ``(max_w, max_h)`` in pixels.

    Returns:
        ``(resized, r)``: the resized image (same number of dimensions as
        ``img``) and the scale factor ``r`` applied to both axes.
    """
    h, w = img.shape[:2]
    ratio = min(max_wh[1] / h, max_wh[0] / w)
    new_wh = (int(w * ratio), int(h * ratio))
    if new_wh == (w, h):
        return img, ratio
    resized = cv2.resize(img, new_wh, interpolation=cv2.INTER_LINEAR)
    if resized.ndim < img.ndim:  # OpenCV drops a trailing channel axis of 1
        resized = resized[..., None]
    return resized, ratio


def checked_mix_results(results: dict, count: int,
                        transform: str) -> List[dict]:
    """``results['mix_results']``, the extra samples a multi-image
    transform (``transform``: Mosaic, MixUp) asked for with
    ``get_indexes``, loaded by the dataset wrapper.

    Raises:
        ValueError: unless it holds exactly ``count`` dicts; the message
            names ``transform``, the expected and the received count.
    """
    mix_results = results.get('mix_results')
    if mix_results is None or len(mix_results) != count:
        raise ValueError(
            f'{transform} needs results["mix_results"] with {count} '
            f'dict{"s" if count != 1 else ""} (from get_indexes through the '
            'dataset wrapper), but received '
            f'{None if mix_results is None else len(mix_results)}')
    return list(mix_results)


@TRANSFORMS.register_module()
class Mosaic(BaseTransform):
    """Mosaic augmentation: 4 images on a ``2H x 2W`` canvas.

    ``(W, H) = img_scale``. The canvas is filled with ``pad_val``; a centre
    ``(cx, cy)`` is drawn with ``cx = int(U(center_ratio_range) * W)`` and
    ``cy = int(U(center_ratio_range) * H)``. Each of the 4 images is resized
    (keep ratio) to fit ``W x H`` and placed so that one of its corners is at
    the centre; the parts that leave the canvas are cut
    (:func:`mosaic_placement`).

    .. code:: text

              x=0               cx                  2W
         y=0  +-----------------+-------------------+
              |      pad        |        pad        |
              |    +------------+----------+        |
              |    |  image 0   | image 1  |        |
              |    | (results)  |          |        |
          cy  +----+------------+----------+--------+
              | image 2 (its    |    image 3        |
              | left part cut)  |    (bottom part   |
              |                 |     cut)          |
          2H  +-----------------+-------------------+

    Image 0 has its bottom-right corner at the centre, image 1 its
    bottom-left, image 2 its top-right, image 3 its top-left. Canvas pixels
    that no image covers keep ``pad_val``.

    Boxes: each image's ``xyxy`` boxes are scaled by its resize factor and
    shifted by its paste offset into canvas pixels, clipped to the canvas
    (if ``bbox_clip_border``), and boxes not inside the canvas
    (``x1 >= 2W``, ``y1 >= 2H``, ``x2 <= 0`` or ``y2 <= 0``) are dropped
    together with their labels and ignore flags. Output order: the boxes of
    image 0, then 1, 2, 3.

    The extra images come from ``results['mix_results']`` (3 dicts, in the
    order top-right, bottom-left, bottom-right), which the dataset wrapper
    (:class:`~yolox_mm.datasets.YOLOXMixImageDataset` or mmdet's
    ``MultiImageMixDataset``) loads for the indices returned by
    :meth:`get_indexes`.

    Required Keys:

    - img (np.ndarray): ``[h, w, C]`` or ``[h, w]``, usually uint8 BGR.
    - gt_bboxes (HorizontalBoxes | np.ndarray): ``[N, 4]`` ``xyxy``, pixels
      of ``img``.
    - gt_bboxes_labels (np.ndarray): ``[N]`` int64.
    - gt_ignore_flags (np.ndarray): ``[N]`` bool.
    - mix_results (List[dict]): 3 dicts with the same 4 keys.

    Modified Keys:

    - img: ``[2H, 2W, C]`` (or ``[2H, 2W]``), dtype of the input ``img``.
    - img_shape: ``(2H, 2W)``.
    - gt_bboxes: ``[M, 4]`` ``xyxy``, pixels of the canvas.
    - gt_bboxes_labels: ``[M]``.
    - gt_ignore_flags: ``[M]``.

    The 4 inputs are read, never written (their boxes are cloned before
    they are scaled and shifted). Raises ``ValueError`` for bad arguments,
    for ``mix_results`` without exactly 3 dicts and for an input without
    one of the 4 keys. Source: Megvii ``MosaicDetection.__getitem__``
    (``yolox/data/datasets/mosaicdetection.py``); same arguments, random
    draws and outputs as mmdet 3.3.0 ``Mosaic`` (what differs is the cost:
    ``docs/differences_from_mmdet.md``, "Mosaic").

    Args:
        img_scale: ``(W, H)``, width first: the size each image is fitted
            into; the canvas is ``2W x 2H``. Defaults to ``(640, 640)``.
        center_ratio_range: ``(low, high)`` range of the centre, as a
            fraction of ``W`` (for ``cx``) and ``H`` (for ``cy``).
            Defaults to ``(0.5, 1.5)``.
        bbox_clip_border: Clip boxes to the canvas. Defaults to True.
        pad_val: Canvas fill value. Defaults to 114.0.
        prob: Probability of applying the mosaic (Megvii's
            ``mosaic_prob``: 0.5 for YOLOX-Nano, 1.0 otherwise). Otherwise
            ``results`` is returned with its own image and boxes and
            ``results['mosaic_skipped'] = True``, so that the following
            ``RandomAffine`` and ``MixUp`` (ours) skip it too and the sample
            only gets the plain-image steps (HSV, flip, resize, pad), as in
            Megvii's ``MosaicDetection``. Defaults to 1.0.

    Random draws (plain numpy, reproduced on resume by the per-epoch
    reseeding of ``DeterministicResumeHook``), in this order: the coin
    ``np.random.uniform(0, 1)`` on every call, also when ``prob`` is 1 (so
    a ``prob=1`` pipeline draws the same numbers as one without ``prob``);
    then ``np.random.uniform`` for ``cx`` and then for ``cy`` in
    :meth:`transform` (a skipped sample draws nothing more); 3 calls to
    ``np.random.randint(0, len(dataset))`` in :meth:`get_indexes`.
    """

    def __init__(self,
                 img_scale: Tuple[int, int] = (640, 640),
                 center_ratio_range: Tuple[float, float] = (0.5, 1.5),
                 bbox_clip_border: bool = True,
                 pad_val: float = 114.0,
                 prob: float = 1.0) -> None:
        if (not isinstance(img_scale, Sequence) or len(img_scale) != 2
                or not all(isinstance(s, int) and s > 0 for s in img_scale)):
            raise ValueError('img_scale must be (width, height), two positive '
                             f'ints, but received {img_scale!r}')
        if (not isinstance(center_ratio_range, Sequence)
                or len(center_ratio_range) != 2
                or center_ratio_range[0] > center_ratio_range[1]):
            raise ValueError('center_ratio_range must be (low, high) with '
                             'low <= high, but received '
                             f'{center_ratio_range!r}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], but received {prob!r}')
        self.img_scale = tuple(img_scale)
        self.center_ratio_range = tuple(center_ratio_range)
        self.bbox_clip_border = bbox_clip_border
        self.pad_val = pad_val
        self.prob = prob

    @cache_randomness
    def get_indexes(self, dataset) -> List[int]:
        """Draw the dataset indices of the 3 extra images.

        Args:
            dataset: Anything with ``len()`` (the wrapped dataset).

        Returns:
            3 indices in ``[0, len(dataset))``, drawn with
            ``np.random.randint``; repetitions are possible (as in mmdet and
            official YOLOX).
        """
        return [np.random.randint(0, len(dataset)) for _ in range(3)]

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        """Build the mosaic; see the class docstring for keys and formats.

        Args:
            results: Result dict with ``mix_results`` (3 dicts).

        Returns:
            ``results``, updated in place.
        """
        if np.random.uniform(0, 1) > self.prob:
            results[MOSAIC_SKIPPED] = True
            return results

        patches = [results, *checked_mix_results(results, 3, 'Mosaic')]
        for i, patch in enumerate(patches):
            missing = [k for k in ('img', ) + _ANN_KEYS if k not in patch]
            if missing:
                raise ValueError(
                    f'Mosaic input {i} (0 = results, 1-3 = mix_results) '
                    f'lacks the keys {missing}')

        width, height = self.img_scale
        canvas_wh = (2 * width, 2 * height)
        img0 = results['img']
        canvas = np.full((canvas_wh[1], canvas_wh[0]) + img0.shape[2:],
                         self.pad_val,
                         dtype=img0.dtype)
        # x first, then y: the order of mmdet's draws.
        center_xy = (int(np.random.uniform(*self.center_ratio_range) * width),
                     int(np.random.uniform(*self.center_ratio_range) * height))

        boxes, labels, ignore_flags = [], [], []
        for place, patch in zip(MOSAIC_PLACES, patches):
            img, ratio = resize_keep_ratio(patch['img'], self.img_scale)
            paste, crop = mosaic_placement(place, center_xy,
                                           (img.shape[1], img.shape[0]),
                                           canvas_wh)
            canvas[paste[1]:paste[3], paste[0]:paste[2]] = \
                img[crop[1]:crop[3], crop[0]:crop[2]]

            patch_boxes = patch['gt_bboxes'].clone()  # never touch the input
            patch_boxes.rescale_([ratio, ratio])
            patch_boxes.translate_([paste[0] - crop[0], paste[1] - crop[1]])
            boxes.append(patch_boxes)
            labels.append(patch['gt_bboxes_labels'])
            ignore_flags.append(patch['gt_ignore_flags'])

        boxes = type(boxes[0]).cat(boxes, dim=0)
        labels = np.concatenate(labels, 0)
        ignore_flags = np.concatenate(ignore_flags, 0)
        canvas_hw = (canvas_wh[1], canvas_wh[0])
        if self.bbox_clip_border:
            boxes.clip_(canvas_hw)
        inside = boxes.is_inside(canvas_hw).numpy()

        results['img'] = canvas
        results['img_shape'] = canvas.shape[:2]
        results['gt_bboxes'] = boxes[inside]
        results['gt_bboxes_labels'] = labels[inside]
        results['gt_ignore_flags'] = ignore_flags[inside]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(img_scale={self.img_scale}, '
                f'center_ratio_range={self.center_ratio_range}, '
                f'bbox_clip_border={self.bbox_clip_border}, '
                f'pad_val={self.pad_val}, prob={self.prob})')
