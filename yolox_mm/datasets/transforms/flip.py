"""mmdet's ``RandomFlip`` with a contiguous flipped image."""
import cv2
import numpy as np
from mmdet.datasets.transforms import RandomFlip

from yolox_mm.registry import TRANSFORMS

#: ``cv2.flip`` codes of mmcv's flip directions.
FLIP_CODES = {'horizontal': 1, 'vertical': 0, 'diagonal': -1}


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
    ``[H, W]`` or ``[H, W, C]`` array OpenCV takes (uint8 and float32
    images up to 512 channels); other arrays are flipped as mmdet does.
    """

    def _flip(self, results: dict) -> None:
        img = results['img']
        super()._flip(results)  # boxes, masks, segs, homography; img view
        if isinstance(img, np.ndarray) and img.ndim in (2, 3) and \
                img.dtype in (np.uint8, np.float32):
            flipped = cv2.flip(img, FLIP_CODES[results['flip_direction']])
            if flipped.ndim < img.ndim:  # OpenCV drops a channel axis of 1
                flipped = flipped[..., None]
            results['img'] = flipped
