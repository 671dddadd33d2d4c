"""mmdet's ``RandomFlip`` with a contiguous flipped image."""
import cv2
import mmcv
import numpy as np
from mmdet.datasets.transforms import RandomFlip

from yolox_mm.registry import TRANSFORMS

#: ``cv2.flip`` codes of mmcv's flip directions.
FLIP_CODES = {'horizontal': 1, 'vertical': 0, 'diagonal': -1}


def contiguous_flip(img: np.ndarray,
                    direction: str = 'horizontal') -> np.ndarray:
    """``img`` flipped like ``mmcv.imflip`` (same values), as a new
    contiguous array instead of a negative-stride view.

    ``cv2.flip`` (0.03 ms at 640 x 640 x 3) for ``[H, W]`` / ``[H, W, C]``
    uint8 or float32 images, with a trailing channel axis of 1 kept (OpenCV
    drops it); ``np.ascontiguousarray`` of mmcv's view for anything else.

    Args:
        img: The image.
        direction: ``'horizontal'``, ``'vertical'`` or ``'diagonal'``.
    """
    if img.ndim in (2, 3) and img.dtype in (np.uint8, np.float32):
        flipped = cv2.flip(img, FLIP_CODES[direction])
        return flipped[..., None] if flipped.ndim < img.ndim else flipped
    return np.ascontiguousarray(mmcv.imflip(img, direction=direction))


@TRANSFORMS.register_module()
class ContiguousRandomFlip(RandomFlip):
    """mmdet 3.3.0 ``RandomFlip`` whose flipped image is a new contiguous
    array (``cv2.flip``) instead of mmcv's ``np.flip`` view with a negative
    stride.

    Same arguments, draws, boxes, masks, segmentation maps and pixels as
    mmdet's (``tests/test_datasets/test_transforms/test_flip.py``). Why:
    the view makes every later OpenCV call copy the image first: mmdet's
    ``Resize`` of a flipped 640 x 640 image at its own size takes 2.0 ms
    instead of 0.02 ms (measured, ``docs/fused_pipeline.md``), which is
    ~1 ms a sample of the YOLOX pipeline at flip probability 0.5.
    ``cv2.flip`` writes the flipped copy in 0.03 ms.

    Required / modified keys: those of mmdet's ``RandomFlip``; ``img`` any
    ``[H, W]`` or ``[H, W, C]`` array (:func:`contiguous_flip`).
    """

    def _flip(self, results: dict) -> None:
        img = results['img']
        super()._flip(results)  # boxes, masks, segs, homography; img view
        results['img'] = contiguous_flip(img, results['flip_direction'])
