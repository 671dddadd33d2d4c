"""The README pictures from a finished training work dir (``make trees``:
``work_dirs/yolox_nano_1xb4-150e_deepforest``):

- ``<prefix>_detections.png``: the last checkpoint's detections (score >=
  0.3) on a validation image, boxes only (in the first palette colour;
  with labels and scores through
  :func:`~yolox_mm.analysis.drawing.draw_detections` if asked), GT boxes
  thin white, saved as a 128-colour palette PNG (:func:`save_small_png`);
- ``<prefix>_curves.png``: the losses against the iteration and the
  validation mAP against the epoch (:mod:`.log_curves`).

The work dir has what ``tools/train.py`` leaves there: the config (dumped
by the Runner as ``<config name>.py``), ``last_checkpoint`` (the path of the
last checkpoint) and ``<timestamp>/vis_data/scalars.json``.
"""
import glob
import os
import os.path as osp
from typing import NamedTuple, Optional

import cv2
import numpy as np


class RunFiles(NamedTuple):
    config: str
    checkpoint: str


def find_run_files(work_dir: str) -> RunFiles:
    """The config and last checkpoint of a training work dir.

    Raises:
        FileNotFoundError: naming what is missing.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir {work_dir} does not exist')
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    named = osp.join(work_dir, osp.basename(osp.normpath(work_dir)) + '.py')
    if named in configs:
        configs = [named]
    if len(configs) != 1:
        raise FileNotFoundError(
            f'expected one config (*.py) in {work_dir}, found {configs}')
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            checkpoint = f.read().strip()
        if not osp.isabs(checkpoint) and not osp.isfile(checkpoint):
            checkpoint = osp.join(work_dir, osp.basename(checkpoint))
    else:
        epochs = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
        checkpoint = max(epochs, key=lambda p: int(
            osp.basename(p)[6:-4]), default='')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'no checkpoint in {work_dir} (last_'
                                f'checkpoint or epoch_*.pth): {checkpoint!r}')
    return RunFiles(configs[0], checkpoint)


def draw_boxes(image_bgr: np.ndarray, bboxes, color=(0, 200, 0),
               thickness: int = 2) -> np.ndarray:
    """Rectangles only (no labels: legible with dozens of boxes), in
    place; ``bboxes [K, 4]`` xyxy pixels."""
    for x1, y1, x2, y2 in np.asarray(bboxes).round().astype(int).tolist():
        cv2.rectangle(image_bgr, (x1, y1), (x2, y2), color, thickness)
    return image_bgr


def detections_picture(model, image: Optional[str] = None,
                       score_thr: float = 0.3, max_side: int = 480,
                       labels: bool = False) -> np.ndarray:
    """The model's detections on a validation image of its config, with
    the GT boxes (thin, white) under them.

    Args:
        model (nn.Module): From mmdet's ``init_detector``.
        image (str, optional): File name of a validation image; default the
            first.
        score_thr (float): Draw detections with score >= this.
        max_side (int): Shrink the picture to at most this many pixels.
        labels (bool): Draw class names and scores (mmdet's
            ``DetLocalVisualizer``); default: boxes only, in the colour of
            the first class of the palette (green if none).

    Returns:
        np.ndarray: ``[H, W, 3]`` uint8 BGR.
    """
    from mmdet.apis import inference_detector

    from .drawing import clip_to_image, draw_detections
    from .samples import build_dataset, find_index
    dataset = build_dataset(model.cfg, 'val')
    info = dataset.get_data_info(find_index(dataset, image))
    img = cv2.imread(info['img_path'])
    if img is None:
        raise FileNotFoundError(f'cannot read {info["img_path"]}')
    for gt in info['instances']:
        x1, y1, x2, y2 = (int(round(v)) for v in gt['bbox'])
        cv2.rectangle(img, (x1, y1), (x2, y2), (255, 255, 255), 1)
    preds = inference_detector(model, img.copy()).pred_instances
    preds = clip_to_image(preds, *img.shape[:2])
    palette = model.dataset_meta.get('palette')
    if labels:
        drawn = draw_detections(img, preds, model.dataset_meta['classes'],
                                palette, score_thr)
    else:
        color = tuple(int(c) for c in palette[0][::-1]) \
            if isinstance(palette, (list, tuple)) and palette else (0, 200, 0)
        drawn = draw_boxes(img, preds.bboxes[preds.scores >= score_thr],
                           color)
    factor = max_side / max(drawn.shape[:2])
    if factor < 1:
        drawn = cv2.resize(drawn, None, fx=factor, fy=factor,
                           interpolation=cv2.INTER_AREA)
    return drawn


def save_small_png(path: str, image_bgr: np.ndarray,
                   colors: int = 128) -> str:
    """Save a photo as a palette PNG of ``colors`` colours (median cut, no
    dithering; a 400 x 400 aerial tile: ~90 KB instead of ~260 KB in full
    colour) for the repository's docs.

    Raises:
        OSError: when the file cannot be written.
    """
    from PIL import Image
    rgb = Image.fromarray(np.ascontiguousarray(image_bgr[..., ::-1]))
    rgb.quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                 dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def write_readme_pictures(work_dir: str, out_dir: str, prefix: str = 'trees',
                          image: Optional[str] = None,
                          score_thr: float = 0.3,
                          device: str = 'cpu', labels: bool = False) -> dict:
    """Write ``<prefix>_detections.png`` and ``<prefix>_curves.png`` to
    ``out_dir`` from a training work dir; return their paths.

    Raises:
        FileNotFoundError: for a work dir without config, checkpoint or log.
    """
    from mmdet.apis import init_detector

    from .log_curves import load_scalars, plot_curves
    run = find_run_files(work_dir)
    scalars = load_scalars(work_dir)
    os.makedirs(out_dir, exist_ok=True)
    curves = plot_curves(scalars, osp.join(out_dir, f'{prefix}_curves.png'),
                         title=osp.basename(run.config)[:-3], width_px=800,
                         height_px=300)
    model = init_detector(run.config, run.checkpoint, device=device)
    picture = detections_picture(model, image, score_thr, labels=labels)
    detections = save_small_png(
        osp.join(out_dir, f'{prefix}_detections.png'), picture)
    return dict(detections=detections, curves=curves, config=run.config,
                checkpoint=run.checkpoint)
