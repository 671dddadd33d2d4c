"""Detections on every frame of a video file or a webcam (mmdet's
``demo/video_demo.py`` and ``demo/webcam_demo.py`` in one; Megvii
``tools/demo.py video|webcam``).

Frames are read with ``cv2.VideoCapture``, detected with mmdet's
``inference_detector`` (the config's test pipeline, built once) and drawn
with :func:`~yolox_mm.analysis.drawing.draw_detections`; the drawn frames
are written with ``cv2.VideoWriter`` (``mp4v``) at the source's frame rate.
"""
from typing import Callable, List, NamedTuple, Optional, Union

import cv2
import numpy as np
import torch

from yolox_mm.utils.type_name import type_name
from .drawing import draw_detections


class VideoSummary(NamedTuple):
    """Attributes:
        frames (int): Frames read and detected.
        detections (list[int]): Per frame, detections with score >= the
            threshold.
        fps (float): Frame rate written (the source's, 25 if it has none).
        size (tuple[int, int]): ``(width, height)`` of the frames.
    """
    frames: int
    detections: List[int]
    fps: float
    size: tuple


def open_capture(source: Union[str, int]) -> cv2.VideoCapture:
    """``cv2.VideoCapture`` of a file, a stream URL (``rtsp://...``) or a
    camera index (``'0'`` or 0).

    Raises:
        FileNotFoundError: for a file that does not exist.
        RuntimeError: when OpenCV cannot open the source.
    """
    import os.path as osp
    if isinstance(source, str) and source.isdigit():
        source = int(source)
    if isinstance(source, str) and '://' not in source and \
            not osp.isfile(source):
        raise FileNotFoundError(f'video file {source} does not exist')
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise RuntimeError(f'OpenCV cannot open the video source {source!r} '
                           '(a file it can decode, or a camera index)')
    return capture


def build_test_pipeline(model: torch.nn.Module):
    """The model's test pipeline for BGR arrays (``LoadImageFromNDArray``
    first, annotations not loaded)."""
    from mmdet.utils import get_test_pipeline_cfg
    from mmengine.dataset import Compose
    steps = [dict(t) for t in get_test_pipeline_cfg(model.cfg.copy())
             if type_name(t['type']) != 'LoadAnnotations']
    steps[0]['type'] = 'mmdet.LoadImageFromNDArray'
    return Compose(steps)


def detect_video(model: torch.nn.Module,
                 source: Union[str, int],
                 out_file: Optional[str] = None,
                 score_thr: float = 0.3,
                 max_frames: Optional[int] = None,
                 on_frame: Optional[Callable[[np.ndarray], bool]] = None
                 ) -> VideoSummary:
    """Detect and draw every frame of ``source``.

    Args:
        model (nn.Module): A detector from mmdet's ``init_detector`` (has
            ``cfg`` and ``dataset_meta``).
        source (str | int): Video file or camera index.
        out_file (str, optional): Write the drawn frames to this video.
        score_thr (float): Draw and count detections with score >= this.
        max_frames (int, optional): Stop after this many frames.
        on_frame (callable, optional): Called with each drawn BGR frame
            (e.g. to show it); returning True stops.

    Returns:
        VideoSummary: frames, detections per frame, frame rate, size.

    Raises:
        FileNotFoundError, RuntimeError: see :func:`open_capture`.
    """
    from mmdet.apis import inference_detector
    capture = open_capture(source)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    pipeline = build_test_pipeline(model)
    classes = model.dataset_meta.get('classes', ())
    palette = model.dataset_meta.get('palette')
    writer, counts, size = None, [], (0, 0)
    try:
        while max_frames is None or len(counts) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            result = inference_detector(model, frame, test_pipeline=pipeline)
            preds = result.pred_instances
            counts.append(int((preds.scores >= score_thr).sum()))
            drawn = draw_detections(frame, preds, classes, palette, score_thr)
            size = (drawn.shape[1], drawn.shape[0])
            if out_file is not None and writer is None:
                writer = cv2.VideoWriter(out_file,
                                         cv2.VideoWriter_fourcc(*'mp4v'),
                                         fps, size)
            if writer is not None:
                writer.write(drawn)
            if on_frame is not None and on_frame(drawn):
                break
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return VideoSummary(len(counts), counts, float(fps), size)
