"""Detections drawn on an image with mmdet's ``DetLocalVisualizer``.

Boxes are clipped to the image first: predicted boxes may extend past it,
and drawn unclipped with matplotlib >= 3.11 (whose ``add_collection``
rescales the view to the boxes) mmengine 0.10.7 returns the image shrunk
under white margins (the same fix as ``demo/image_demo.py``).
"""
from typing import Optional, Sequence

import numpy as np
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

_VISUALIZER_NAME = 'yolox_mm_analysis'


def clip_to_image(instances: InstanceData, height: int,
                  width: int) -> InstanceData:
    """A copy of ``instances`` (``bboxes [K, 4]`` xyxy, image pixels) with
    the boxes clipped to ``[0, width] x [0, height]``, those with a NaN
    coordinate left out (a barely trained model's boxes can overflow)."""
    clipped = instances[instances.bboxes.isfinite().any(dim=1) &
                        ~instances.bboxes.isnan().any(dim=1)]
    bboxes = clipped.bboxes.clone()
    bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, width)
    bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, height)
    clipped.bboxes = bboxes
    return clipped


def draw_detections(image_bgr: np.ndarray, pred_instances: InstanceData,
                    classes: Sequence[str],
                    palette: Optional[Sequence] = None,
                    score_thr: float = 0.3) -> np.ndarray:
    """Draw the detections with score >= ``score_thr`` (boxes, class names
    and scores) on a copy of the image.

    Args:
        image_bgr (np.ndarray): ``[H, W, 3]`` uint8 BGR.
        pred_instances (InstanceData): ``bboxes [K, 4]`` xyxy in pixels of
            this image, ``scores [K]``, ``labels [K]``.
        classes (Sequence[str]): Class names.
        palette (Sequence, optional): One RGB tuple a class, else mmdet's
            random palette.
        score_thr (float): Draw detections with score >= this.

    Returns:
        np.ndarray: ``[H, W, 3]`` uint8 BGR, the same size as the input.
    """
    from mmdet.visualization import DetLocalVisualizer
    visualizer = DetLocalVisualizer.get_instance(_VISUALIZER_NAME)
    visualizer.dataset_meta = dict(classes=tuple(classes),
                                   palette=palette or 'random')
    height, width = image_bgr.shape[:2]
    instances = clip_to_image(pred_instances, height, width)
    # mmdet keeps scores > thr; we keep >= thr as the demos report
    instances = instances[instances.scores >= score_thr]
    sample = DetDataSample(pred_instances=instances)
    visualizer.add_datasample('image', image_bgr[..., ::-1].copy(), sample,
                              draw_gt=False, show=False, pred_score_thr=-1)
    return np.ascontiguousarray(visualizer.get_image()[..., ::-1])
