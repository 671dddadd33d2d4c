"""Mosaic -> RandomAffine -> MixUp in one step: every source image is warped
straight into the output canvas with one ``cv2.warpAffine``.

Box format everywhere in this module: ``xyxy`` in pixels, as mmdet
``HorizontalBoxes`` of shape ``[N, 4]`` (float32). Input boxes are in the
pixels of their own image; output boxes are in the pixels of the output
canvas (``(2W + 2 bw) x (2H + 2 bh)`` with ``(bw, bh)`` the RandomAffine
``border``, i.e. ``W x H`` with the usual ``border = -img_scale / 2``).

The three-step path (:class:`~yolox_mm.datasets.transforms.Mosaic`, our
``RandomAffine``, :class:`~yolox_mm.datasets.transforms.MixUp`) builds a
``2W x 2H`` canvas, resizes and pastes four images into it and warps the
whole canvas with ``cv2.warpPerspective``; MixUp then letterboxes the
partner into a float32 canvas, resizes that by the jitter and crops it. Here
each step's pixel map is an axis-aligned affine map (resize: ``x' = s (x +
0.5) - 0.5``, paste: a shift, flip: ``x' = W' - 1 - x``, crop: a shift), so
the whole chain from a source pixel to an output pixel is one ``2 x 3``
matrix: ``M_affine @ paste @ resize`` for a mosaic source and ``crop @ flip
@ jitter @ letterbox`` for the MixUp partner. No ``2W x 2H`` canvas is
built. By default a source that Mosaic resizes is still resized first (the
same ``cv2.resize`` pixels, computed only over the part of its crop that
reaches the output: :func:`~yolox_mm.datasets.transforms.resize_window.
resize_window`) and the partner goes through MixUp's own steps on a
uint8 canvas, so that the pixels match the three-step path; with
``single_resample=True`` each source is sampled once, by the whole matrix.
"""
import math
from typing import List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import LoadAnnotations
from mmdet.structures.bbox import autocast_box_type

from yolox_mm.registry import TRANSFORMS
from yolox_mm.utils.type_name import type_name
from .heap import keep_images_on_heap
from .mixup import MixUp, blend_half
from .mosaic import (MOSAIC_PLACES, MOSAIC_SKIPPED, Mosaic,
                     checked_mix_results, mosaic_placement)
from .random_affine import RandomAffine
from .resize_window import resize_window
from .twins import with_exact_twin

#: The transforms :func:`fuse_pipeline` replaces, in pipeline order.
FUSED_TYPES = ('Mosaic', 'RandomAffine', 'MixUp')

#: The 1-pixel frame each mosaic place gets around its crop, ``(top,
#: bottom, left, right)``: ``'pad'`` on the outer sides (where the mosaic
#: canvas has ``pad_val``: bilinear sampling then blends the edge with it,
#: as the three-step path does), ``'edge'`` (replicated) on the inner sides
#: whose neighbour is warped later (the places go in :data:`MOSAIC_PLACES`
#: order; the neighbour overwrites the frame where it has pixels), none on
#: the inner sides whose neighbour came earlier.
SEAM_FRAMES = {
    'top_left': ('pad', 'edge', 'pad', 'edge'),
    'top_right': ('pad', 'edge', None, 'pad'),
    'bottom_left': (None, 'pad', 'pad', 'edge'),
    'bottom_right': (None, 'pad', None, 'pad'),
}


def framed(roi: np.ndarray, frame: Tuple[Optional[str], ...],
           pad_val: float) -> Tuple[np.ndarray, int, int]:
    """``roi`` with the 1-pixel ``frame`` of :data:`SEAM_FRAMES` (one
    ``cv2.copyMakeBorder``, a copy). Returns ``(framed, top, left)``: the
    image and the rows / columns added before ``roi``."""
    top, bottom, left, right = (int(side is not None) for side in frame)
    out = cv2.copyMakeBorder(roi, top, bottom, left, right,
                             cv2.BORDER_CONSTANT, value=(pad_val, ) * 3)
    if frame[3] == 'edge':
        out[:, -1] = out[:, -2]
    if frame[1] == 'edge':
        out[-1] = out[-2]
    return out, top, left


def resize_map(size: int, ratio: float) -> Tuple[int, float]:
    """1-D pixel map of :func:`~yolox_mm.datasets.transforms.mosaic.
    resize_keep_ratio` (``cv2.resize``, bilinear) along one axis.

    Args:
        size: Input length in pixels.
        ratio: Keep-ratio factor ``r``; the output length is
            ``int(size * r)``.

    Returns:
        ``(new_size, scale)`` with ``scale = new_size / size``: an input
        pixel centre ``u`` lands at ``scale * (u + 0.5) - 0.5`` (OpenCV's
        half-pixel convention); ``scale == 1`` when the size is unchanged
        (then ``resize_keep_ratio`` does not resize at all).
    """
    new_size = int(size * ratio)
    return new_size, new_size / size


def axis_affine(scale_x: float, scale_y: float, shift_x: float,
                shift_y: float) -> np.ndarray:
    """The ``3 x 3`` float64 matrix of ``x' = sx x + tx, y' = sy y + ty``."""
    return np.array([[scale_x, 0., shift_x], [0., scale_y, shift_y],
                     [0., 0., 1.]])


def source_roi(lo: int, hi: int, scale: float, size: int,
               new_size: int) -> Tuple[int, int]:
    """Input pixels ``[a, b)`` behind the output pixels ``lo .. hi - 1`` of
    a bilinear resize by ``scale`` of ``size`` pixels to ``new_size``.

    At a side where the crop is the image's own edge (``lo == 0``, ``hi ==
    new_size``) every input pixel the resize reads is kept (floor / ceil).
    At a side cut by the mosaic canvas the input pixel nearest to the cut
    is the last one kept (rounding), so that the image ends within half an
    input pixel of the canvas edge, as in the three-step path.
    """
    first = (lo + 0.5) / scale - 0.5
    last = (hi - 0.5) / scale - 0.5
    start = math.floor(first) if lo == 0 else round(first)
    end = math.ceil(last) + 1 if hi == new_size else round(last) + 1
    return max(0, start), min(size, end)


def dst_box(corners: np.ndarray, out_hw: Tuple[int, int]
            ) -> Optional[Tuple[int, int, int, int]]:
    """The output pixels ``(x0, y0, x1, y1)`` (exclusive ``x1, y1``) that a
    source whose region maps to ``corners`` (``[K, 2]`` x, y in output
    pixels) may write: their bounding box with 1 pixel of margin, cut to
    the output; None if that is empty (the source is not visible)."""
    height, width = out_hw
    x0 = max(0, math.floor(corners[:, 0].min()) - 1)
    y0 = max(0, math.floor(corners[:, 1].min()) - 1)
    x1 = min(width, math.ceil(corners[:, 0].max()) + 2)
    y1 = min(height, math.ceil(corners[:, 1].max()) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def warp_into(dst: np.ndarray, src: np.ndarray, matrix: np.ndarray,
              box: Tuple[int, int, int, int]) -> None:
    """Bilinear-warp ``src`` by ``matrix`` (``3 x 3``, src -> dst pixels)
    into ``dst`` in place, only inside ``box`` (``x0, y0, x1, y1``, see
    :func:`dst_box`) and only where the source covers the pixel
    (``BORDER_TRANSPARENT``): other pixels keep their values. Writes into a
    view of ``dst``, no copy.

    The fused step passes BGRA images (``dst`` and ``src`` with the same
    channels): OpenCV 5's bilinear ``warpAffine`` of uint8 is vectorized
    for 1 and 4 channels but not for 3 (0.45 against 0.75 ms for a 360 x
    360 box), and each channel is interpolated on its own, so the B, G, R
    channels are the same bit for bit (``test_fused_mosaic.py``)."""
    x0, y0, x1, y1 = box
    shifted = axis_affine(1., 1., -x0, -y0) @ matrix
    cv2.warpAffine(src, shifted[:2], (x1 - x0, y1 - y0),
                   dst=dst[y0:y1, x0:x1], flags=cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_TRANSPARENT)


def project_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``[K, 2]`` points through an affine ``3 x 3`` matrix."""
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def rect_corners(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """The 4 corners ``[4, 2]`` of a rectangle."""
    return np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]], dtype=float)


class _Placement(NamedTuple):
    """Where one mosaic source goes: keep-ratio factor ``ratio`` (boxes),
    per-axis pixel scales ``(sx, sy)`` (:func:`resize_map`), Mosaic's
    ``paste`` and ``crop`` rectangles, and the output pixels it may write
    (``box``, None if not visible)."""
    ratio: float
    scale: Tuple[float, float]
    paste: Tuple[int, int, int, int]
    crop: Tuple[int, int, int, int]
    box: Optional[Tuple[int, int, int, int]]


@TRANSFORMS.register_module()
class FusedMosaicAffineMixUp(BaseTransform):
    """``Mosaic -> RandomAffine [-> MixUp]`` of yolox_mm as one transform.

    Same arguments (one dict each, the config entries without ``type``),
    the same random draws in the same order from the same generator, the
    same boxes (computed by the same operations, so equal to the three-step
    path bit for bit), and the same pixels up to interpolation: each source
    is sampled once by a composed affine matrix instead of being resized,
    pasted and warped (``tests/test_datasets/test_transforms/
    test_fused_mosaic.py`` compares with the three-step path for the same
    seed).

    Random draws (all ``np.random``, the three transforms' calls in their
    order): :meth:`get_indexes` draws what the dataset wrapper and the
    transforms draw before the partner is loaded: Mosaic's 3 indices, its
    coin and, if the mosaic is applied, its centre ``cx, cy`` and
    RandomAffine's 6 parameters (rotation, scale, 2 shears, 2
    translations: mmdet's ``_get_random_homography_matrix``), then MixUp's
    partner index(es); :meth:`transform` draws MixUp's coin (if ``prob <
    1``), jitter, flip and window offset (only if both images have boxes).
    So a seeded run draws exactly the numbers of the three-step path.
    :meth:`get_indexes` must therefore be called before every
    :meth:`transform`, as ``YOLOXMixImageDataset`` and mmdet's
    ``MultiImageMixDataset`` do; it keeps the centre and the affine matrix
    for the next :meth:`transform`.

    Decoding only what is seen (``decode_visible_only``): mmdet's affine
    keeps the top-left ``W/s x H/s`` of the ``2W x 2H`` mosaic (scale
    ``s``), so on average ~1.5 of the 3 extra mosaic images are not visible
    in the output at all (measured on the COCO and tree configs' draws).
    :meth:`get_indexes` knows the centre, the matrix and (from the
    annotation record's ``width``/``height``) each image's size, so it
    returns only the indices of images that may write an output pixel;
    the boxes of the others are read from their annotation records with
    mmdet's ``LoadAnnotations(with_bbox=True)`` (the loading pipeline of
    every config here) and go through the same box steps, so the output is
    the same as when they are decoded. Records without ``width`` and
    ``height`` are always decoded. Set it to False for a loading pipeline
    that changes boxes or image sizes.

    A sample the mosaic skips (``prob < 1``) gets
    ``results['mosaic_skipped'] = True`` and is otherwise unchanged, as in
    the three-step path; its extra images are not loaded at all (the
    three-step path loads and discards them).

    Pixels: the output (BGRA while the sources are warped into it, see
    :func:`warp_into`; BGR when returned) is filled with ``pad_val`` and
    each source is warped into it with ``BORDER_TRANSPARENT``, from its
    crop with a 1-pixel frame (:data:`SEAM_FRAMES`: ``pad_val`` outside,
    the edge replicated towards a later neighbour; one
    ``cv2.copyMakeBorder`` of the crop), so that bilinear sampling blends
    the image edges with the pad and reaches the seams between the four
    images. Differences to the three-step path: ``warpAffine``'s fixed-point interpolation where the
    three-step path uses ``warpPerspective`` / ``cv2.resize``; along the
    seams a band of about 1 canvas pixel (the edge pixel replicated
    instead of blended with the neighbour); the MixUp window is rounded
    (``warpAffine``) where MixUp truncates its float32 canvas. With
    ``single_resample`` also one bilinear sampling instead of two for a
    resized source (sharper: the three-step path blurs it twice).

    Allocator: the first :meth:`transform` of a process calls
    :func:`~yolox_mm.datasets.transforms.heap.keep_images_on_heap`, so
    that glibc keeps the per-sample images on its heap instead of mapping
    and unmapping them from the kernel every sample (~30 % of the step in a
    process of its own).

    Required and modified keys: those of
    :class:`~yolox_mm.datasets.transforms.Mosaic` (``img`` ``[h, w, 3]``
    uint8, ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_ignore_flags``,
    ``mix_results``: the loaded extra samples in the order of
    :meth:`get_indexes`, the partner last); output ``img`` ``[H_out,
    W_out, 3]`` uint8, ``(W_out, H_out) = 2 img_scale + 2 border``.

    Args:
        mosaic: Arguments of :class:`~yolox_mm.datasets.transforms.Mosaic`.
        random_affine: Arguments of our ``RandomAffine`` (mmdet's).
        mixup: Arguments of :class:`~yolox_mm.datasets.transforms.MixUp`, or
            None for no MixUp (the tiny / nano pipelines).
        decode_visible_only: See above. Defaults to True.
        single_resample: False (default): a source that Mosaic (or MixUp's
            letterbox) resizes is first resized as there
            (:func:`~yolox_mm.datasets.transforms.mosaic.resize_keep_ratio`,
            the same ``cv2.resize`` call and pixels) and then warped by the
            rest of the chain, so it is resampled twice as in the
            three-step path and the pixels match it within interpolation.
            True: one composed warp per source (sharper; a ``cv2.resize``
            less per resized source).

    Raises:
        ValueError: if Mosaic's ``pad_val`` and RandomAffine's
            ``border_val`` differ (the fused canvas has one fill value), or
            for the sub-transforms' invalid arguments.
    """

    def __init__(self, mosaic: dict, random_affine: dict,
                 mixup: Optional[dict] = None,
                 decode_visible_only: bool = True,
                 single_resample: bool = False) -> None:
        self.mosaic = Mosaic(**mosaic)
        self.affine = RandomAffine(**random_affine)
        self.mixup = None if mixup is None else MixUp(**mixup)
        fill = np.broadcast_to(
            np.asarray(self.affine.border_val, dtype=float), (3, ))
        if not np.all(fill == float(self.mosaic.pad_val)):
            raise ValueError(
                'FusedMosaicAffineMixUp needs Mosaic pad_val equal to '
                'RandomAffine border_val, but received '
                f'{self.mosaic.pad_val!r} and {self.affine.border_val!r}')
        self.decode_visible_only = decode_visible_only
        self.single_resample = single_resample
        self._load_annotations = LoadAnnotations(with_bbox=True)
        self._pending: Optional[Tuple] = None

    def get_indexes(self, dataset) -> List[int]:
        """Draw the extra images' indices, the mosaic coin and centre and
        the affine matrix (kept for :meth:`transform`).

        Args:
            dataset: The wrapped dataset (``len()``; ``get_data_info`` if
                ``mixup`` or ``decode_visible_only``).

        Returns:
            The indices to load: the visible ones of the 3 mosaic images,
            then the partner's if ``mixup``; ``[]`` if the mosaic is skipped
            (the index draws are made all the same).
        """
        indexes = self.mosaic.get_indexes(dataset)
        skipped = np.random.uniform(0, 1) > self.mosaic.prob
        center = matrix = None
        if not skipped:
            low, high = self.mosaic.center_ratio_range
            width, height = self.mosaic.img_scale
            # x first, then y: Mosaic's (and mmdet's) order
            center = (int(np.random.uniform(low, high) * width),
                      int(np.random.uniform(low, high) * height))
            out_w, out_h = self._out_wh()
            matrix = self.affine._get_random_homography_matrix(out_h, out_w)
        partner = ([] if self.mixup is None else
                   [self.mixup.get_indexes(dataset)])
        if skipped:
            self._pending = (True, None, None, None)
            return []
        unseen = [None] * 3
        if self.decode_visible_only:
            unseen = [
                self._unseen_source(dataset, index, place, center, matrix)
                for place, index in zip(MOSAIC_PLACES[1:], indexes)
            ]
        self._pending = (False, center, matrix, unseen)
        return [i for i, u in zip(indexes, unseen) if u is None] + partner

    def _unseen_source(self, dataset, index: int, place: str,
                       center: Tuple[int, int],
                       matrix: np.ndarray) -> Optional[dict]:
        """The annotations of image ``index`` if it is not visible in the
        output (then it is not loaded), else None (also when the dataset
        has no ``get_data_info`` or the record no size)."""
        if not hasattr(dataset, 'get_data_info'):
            return None
        info = dataset.get_data_info(index)
        width, height = info.get('width'), info.get('height')
        if not width or not height:
            return None
        if self._placement(place, center, (width, height),
                           matrix).box is not None:
            return None
        results = self._load_annotations(info)
        results['img_wh'] = (width, height)
        return results

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        """See the class docstring.

        Raises:
            RuntimeError: if :meth:`get_indexes` was not called before.
            ValueError: if ``mix_results`` has the wrong length.
        """
        if self._pending is None:
            raise RuntimeError(
                'FusedMosaicAffineMixUp.get_indexes must be called before '
                'each transform (the dataset wrapper does); it draws the '
                'mosaic centre and the affine matrix')
        (skipped, center, matrix, unseen), self._pending = self._pending, None
        keep_images_on_heap()  # once per process: see heap.py
        if skipped:
            results[MOSAIC_SKIPPED] = True
            return results
        sources = self._sources(results, unseen)
        out_w, out_h = self._out_wh()
        # BGRA while warping: OpenCV's bilinear warpAffine is vectorized
        # for 4 channels, not 3 (:func:`warp_into`)
        canvas = np.full((out_h, out_w, 4), self.mosaic.pad_val,
                         dtype=np.uint8)
        boxes, labels, flags = self._mosaic_into(canvas, sources[:4], center,
                                                 matrix)
        results['img'] = cv2.cvtColor(canvas, cv2.COLOR_BGRA2BGR)
        results['img_shape'] = canvas.shape[:2]
        results['gt_bboxes'] = boxes
        results['gt_bboxes_labels'] = labels
        results['gt_ignore_flags'] = flags
        if self.mixup is not None:
            self._mixup_into(results, sources[4])
        return results

    def _sources(self, results: dict, unseen: List[Optional[dict]]
                 ) -> List[dict]:
        """``results``, the 3 other mosaic sources (loaded or unseen) and
        the partner, checked."""
        expected = unseen.count(None) + (self.mixup is not None)
        loaded = iter(checked_mix_results(results, expected,
                                          'FusedMosaicAffineMixUp'))
        sources = [results] + [next(loaded) if u is None else u
                               for u in unseen] + list(loaded)
        for i, src in enumerate(sources):
            img = src.get('img')
            if 'img_wh' not in src and (img is None or img.ndim != 3
                                        or img.shape[2] != 3):
                raise ValueError(
                    f'FusedMosaicAffineMixUp input {i} needs an [h, w, 3] '
                    'image, but received '
                    f'{None if img is None else img.shape}')
        return sources

    def _out_wh(self) -> Tuple[int, int]:
        """Output size: the RandomAffine output of the ``2W x 2H`` canvas."""
        width, height = self.mosaic.img_scale
        border_w, border_h = self.affine.border
        return 2 * width + 2 * border_w, 2 * height + 2 * border_h

    def _placement(self, place: str, center: Tuple[int, int],
                   size_wh: Tuple[int, int], matrix: np.ndarray) -> _Placement:
        """Mosaic's resize and placement of a ``size_wh`` image at
        ``place``, and the output pixels it may write under ``matrix``."""
        width, height = self.mosaic.img_scale
        ratio = min(width / size_wh[0], height / size_wh[1])
        (new_w, scale_x), (new_h, scale_y) = (resize_map(size_wh[0], ratio),
                                              resize_map(size_wh[1], ratio))
        paste, crop = mosaic_placement(place, center, (new_w, new_h),
                                       (2 * width, 2 * height))
        box = None
        if paste[2] > paste[0] and paste[3] > paste[1]:
            corners = project_points(
                matrix.astype(np.float64),
                rect_corners(paste[0] - 0.5, paste[1] - 0.5, paste[2] - 0.5,
                             paste[3] - 0.5))
            out_w, out_h = self._out_wh()
            box = dst_box(corners, (out_h, out_w))
        return _Placement(ratio, (scale_x, scale_y), paste, crop, box)

    def _mosaic_into(self, canvas: np.ndarray, sources: Sequence[dict],
                     center: Tuple[int, int], matrix: np.ndarray):
        """Warp the visible mosaic sources into ``canvas``; the boxes of
        all 4 as Mosaic and then RandomAffine compute them. Returns
        ``(boxes, labels, ignore_flags)`` of the kept boxes."""
        width, height = self.mosaic.img_scale
        boxes, labels, flags = [], [], []
        for place, src in zip(MOSAIC_PLACES, sources):
            img = src.get('img')
            size_wh = src.get('img_wh') or (img.shape[1], img.shape[0])
            where = self._placement(place, center, size_wh, matrix)
            if where.box is not None:
                self._warp_source(canvas, img, place, where, matrix)
            src_boxes = src['gt_bboxes'].clone()
            src_boxes.rescale_([where.ratio, where.ratio])
            src_boxes.translate_([where.paste[0] - where.crop[0],
                                  where.paste[1] - where.crop[1]])
            boxes.append(src_boxes)
            labels.append(src['gt_bboxes_labels'])
            flags.append(src['gt_ignore_flags'])
        return self._affine_boxes(
            type(boxes[0]).cat(boxes, dim=0), np.concatenate(labels, 0),
            np.concatenate(flags, 0), (2 * width, 2 * height), matrix,
            canvas.shape[:2])

    def _warp_source(self, canvas: np.ndarray, img: np.ndarray,
                     place: str, where: _Placement,
                     matrix: np.ndarray) -> None:
        """One source: the part of ``img`` behind its crop, framed
        (:data:`SEAM_FRAMES`), through resize, paste and ``matrix``. Unless
        ``single_resample``, the resize is done first by ``cv2.resize``, and
        only over the part of the crop that reaches ``where.box``
        (:meth:`_seen_region`, :func:`resize_window`: the same pixels)."""
        matrix = matrix.astype(np.float64)
        (scale_x, scale_y), paste, crop = where.scale, where.paste, where.crop
        if self.single_resample:
            h, w = img.shape[:2]
            new_w, new_h = round(w * scale_x), round(h * scale_y)
            u0, u1 = source_roi(crop[0], crop[2], scale_x, w, new_w)
            v0, v1 = source_roi(crop[1], crop[3], scale_y, h, new_h)
            part, frame = img[v0:v1, u0:u1], SEAM_FRAMES[place]
        else:  # in pixels of the resized image, the part that is seen
            u0, v0, u1, v1 = self._seen_region(where, matrix)
            if u1 <= u0 or v1 <= v0:
                return  # its bounding box meets the output, it does not
            at_crop_edge = (v0 == crop[1], v1 == crop[3], u0 == crop[0],
                            u1 == crop[2])
            frame = tuple(side if edge else None
                          for side, edge in zip(SEAM_FRAMES[place],
                                                at_crop_edge))
            if (scale_x, scale_y) == (1., 1.):
                part = img[v0:v1, u0:u1]
            else:
                new_wh = (round(img.shape[1] * scale_x),
                          round(img.shape[0] * scale_y))
                part = resize_window(img, new_wh, (u0, v0, u1, v1))
            scale_x = scale_y = 1.
        roi, top, left = framed(part, frame, self.mosaic.pad_val)
        # ROI pixel a is source pixel u0 - left + a; resize, paste shift
        dx, dy = paste[0] - crop[0], paste[1] - crop[1]
        to_canvas = axis_affine(scale_x, scale_y,
                                scale_x * (u0 - left + 0.5) - 0.5 + dx,
                                scale_y * (v0 - top + 0.5) - 0.5 + dy)
        warp_into(canvas, cv2.cvtColor(roi, cv2.COLOR_BGR2BGRA),
                  matrix @ to_canvas, where.box)

    @staticmethod
    def _seen_region(where: _Placement,
                     matrix: np.ndarray) -> Tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``, exclusive ends: the pixels of the resized
        source inside its crop that the warp reads for the output pixels
        of ``where.box`` (the box mapped back through ``matrix`` and the
        paste shift, with 2 pixels of margin for the bilinear taps)."""
        x0, y0, x1, y1 = where.box
        back = project_points(np.linalg.inv(matrix),
                              rect_corners(x0, y0, x1 - 1, y1 - 1))
        paste, crop = where.paste, where.crop
        back -= (paste[0] - crop[0], paste[1] - crop[1])
        lo = np.floor(back.min(0)).astype(int) - 2
        hi = np.ceil(back.max(0)).astype(int) + 3
        return (max(crop[0], int(lo[0])), max(crop[1], int(lo[1])),
                min(crop[2], int(hi[0])), min(crop[3], int(hi[1])))

    def _affine_boxes(self, boxes, labels, flags, canvas_wh, matrix,
                      out_hw):
        """Mosaic's clip and filter on the canvas, then RandomAffine's
        projection, clip and filter (the same calls as the two
        transforms)."""
        canvas_hw = (canvas_wh[1], canvas_wh[0])
        if self.mosaic.bbox_clip_border:
            boxes.clip_(canvas_hw)
        inside = boxes.is_inside(canvas_hw).numpy()
        boxes, labels, flags = boxes[inside], labels[inside], flags[inside]
        if len(boxes):
            boxes.project_(matrix)
            if self.affine.bbox_clip_border:
                boxes.clip_(list(out_hw))
            inside = boxes.is_inside(list(out_hw)).numpy()
            boxes, labels, flags = boxes[inside], labels[inside], flags[inside]
        return boxes, labels, flags

    def _mixup_into(self, results: dict, partner: dict) -> None:
        """MixUp's checks and draws; the partner warped straight into its
        window (letterbox, jitter, flip and crop in one matrix)."""
        mixup = self.mixup
        if len(partner['gt_bboxes']) == 0 or len(results['gt_bboxes']) == 0:
            return
        if mixup.prob < 1.0 and np.random.uniform(0, 1) >= mixup.prob:
            return
        jit = np.random.uniform(*mixup.ratio_range)
        flip = np.random.uniform(0, 1) > mixup.flip_ratio
        width, height = mixup.img_scale
        jit_wh = (int(width * jit), int(height * jit))
        img = results['img']
        offset = mixup._window_offset((jit_wh[1], jit_wh[0]), img.shape[:2])
        if self.single_resample:
            window = self._partner_window(partner['img'], jit_wh, flip,
                                          offset, img.shape)
        else:  # MixUp's steps on a uint8 canvas
            canvas, _ = mixup._jittered_canvas(partner['img'], jit,
                                               dtype=np.uint8)
            window = mixup._window(canvas, img.shape, offset, flip)
        h, w = partner['img'].shape[:2]
        ratio = min(width / w, height / h)
        boxes = mixup._partner_boxes(partner['gt_bboxes'], ratio * jit, flip,
                                     (jit_wh[1], jit_wh[0]), img.shape[:2],
                                     offset)
        mixup._merge(results, blend_half(img, window), partner, boxes)

    def _partner_window(self, img: np.ndarray, jit_wh: Tuple[int, int],
                        flip: bool, offset: Tuple[int, int],
                        shape: tuple) -> np.ndarray:
        """The ``shape`` uint8 window MixUp crops from its jittered,
        flipped canvas, by one ``warpAffine`` of the partner (``pad_val``
        outside the partner, as MixUp's letterbox and window): the
        ``single_resample`` path."""
        width, height = self.mixup.img_scale
        h, w = img.shape[:2]
        ratio = min(width / w, height / h)
        (_, sx), (_, sy) = resize_map(w, ratio), resize_map(h, ratio)
        letterbox = axis_affine(sx, sy, 0.5 * sx - 0.5, 0.5 * sy - 0.5)
        kx, ky = jit_wh[0] / width, jit_wh[1] / height
        jitter = axis_affine(kx, ky, 0.5 * kx - 0.5, 0.5 * ky - 0.5)
        matrix = jitter @ letterbox
        if flip:
            matrix = axis_affine(-1., 1., jit_wh[0] - 1., 0.) @ matrix
        matrix = axis_affine(1., 1., -offset[0], -offset[1]) @ matrix
        pad = float(self.mixup.pad_val)
        return cv2.warpAffine(img, matrix[:2], (shape[1], shape[0]),
                              flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT,
                              borderValue=(pad, pad, pad))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mosaic={self.mosaic!r}, '
                f'random_affine={self.affine!r}, mixup={self.mixup!r})')


def _fused_span(pipeline: Sequence[dict]) -> Tuple[int, int]:
    """``(start, end)``: the entries ``pipeline[start:end]`` that
    :func:`fuse_pipeline` replaces by one (``Mosaic, RandomAffine`` and a
    ``MixUp`` right after them, if any; any scope prefix).

    Raises:
        ValueError: if no ``Mosaic`` is directly followed by
            ``RandomAffine``.
    """
    names = [type_name(t['type']) for t in pipeline]
    for i in range(len(names) - 1):
        if names[i:i + 2] == list(FUSED_TYPES[:2]):
            has_mixup = i + 2 < len(names) and names[i + 2] == FUSED_TYPES[2]
            return i, i + (3 if has_mixup else 2)
    raise ValueError('fuse_pipeline needs Mosaic directly followed by '
                     f'RandomAffine, but received {names}')


def fuse_pipeline(pipeline: Sequence[dict],
                  exact_swaps: bool = True) -> List[dict]:
    """``pipeline`` with its ``Mosaic, RandomAffine[, MixUp]`` entries
    (consecutive, any scope prefix) replaced by one
    :class:`FusedMosaicAffineMixUp` entry with their arguments and, if
    ``exact_swaps``, each transform that has an exact faster twin by that
    twin (:func:`~yolox_mm.datasets.transforms.twins.with_exact_twin`:
    same arguments, draws and output). Other entries are copied
    unchanged.

    Raises:
        ValueError: if the pipeline has no ``Mosaic`` directly followed by
            ``RandomAffine``.
    """
    i, end = _fused_span(pipeline)
    args = [{k: v for k, v in t.items() if k != 'type'} for t in pipeline]
    fused = dict(type='FusedMosaicAffineMixUp', mosaic=args[i],
                 random_affine=args[i + 1],
                 mixup=args[i + 2] if end == i + 3 else None)
    rest = [with_exact_twin(t) if exact_swaps else dict(t)
            for t in pipeline[end:]]
    return [dict(t) for t in pipeline[:i]] + [fused] + rest
