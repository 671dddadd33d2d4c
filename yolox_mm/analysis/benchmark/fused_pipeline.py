"""The fused training pipeline against the three-step one, mmdet's and
Megvii's.

Four pipelines on the same images, at the same canvas, with the same
augmentation (Mosaic -> RandomAffine -> MixUp -> HSV -> flip -> resize ->
pad -> filter -> pack of ``configs/_base_/datasets/coco_yolox.py``):

- ``three_step``: ``YOLOXMixImageDataset(fuse=False)`` with our Mosaic,
  RandomAffine, MixUp;
- ``fused``: the same with ``fuse=True`` (opt-in in the configs):
  :class:`~yolox_mm.datasets.transforms.FusedMosaicAffineMixUp` in place of
  the three and the exact faster twins of HSV and flip
  (:func:`~yolox_mm.datasets.transforms.fuse_pipeline`);
- ``mmdet``: ``MultiImageMixDataset`` + mmdet's ``yolox_s`` pipeline
  (:func:`.data.build_train_dataset`);
- ``megvii``: Megvii's ``MosaicDetection`` + ``TrainTransform``
  (yolox-datamint 0.3.1) over its ``COCODataset``, with the YOLOX-S
  arguments and MixUp scale ``(0.8, 1.6)`` as ours.

:func:`floor` measures what a sample cannot avoid: its decodes (counted per
pipeline by :func:`decodes_per_sample`) and one resize. :func:`compare_paths`
checks ``three_step`` against ``fused`` sample by sample from the same seeds
(pixels, boxes, box statistics).
"""
import dataclasses
import json
import os
import os.path as osp
import random
import statistics
import time
from typing import Dict, List, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.config import Config

from yolox_mm.testing.megvii_data import build_megvii_pipeline
from yolox_mm.testing.reference import OUR_CONFIGS
from .data import (build_train_dataset, config_collates, pipeline_rates,
                   scaled_pipeline)
from .sizes import FULL

PIPELINES = ('three_step', 'fused', 'mmdet', 'megvii')


class _CountingDataset:
    """Delegates to ``inner``; counts ``[i]`` and ``pull_item`` calls (one
    image decode each)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, idx):
        self.calls += 1
        return self.inner[idx]

    def pull_item(self, idx):
        self.calls += 1
        return self.inner.pull_item(idx)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _coco_yolox_pipeline(scale: int) -> List[dict]:
    """The train pipeline of ``_base_/datasets/coco_yolox.py`` at a
    ``scale x scale`` canvas."""
    return scaled_pipeline(Config.fromfile(
        OUR_CONFIGS / '_base_' / 'datasets' / 'coco_yolox.py').train_pipeline,
        scale)


def build_all(data_root: str, ann_file: str, img_prefix: str,
              scale: int) -> Dict[str, object]:
    """The four datasets of :data:`PIPELINES`."""
    three, _ = build_train_dataset('ours', data_root, ann_file, img_prefix,
                                   scale, fuse=False)
    fused, _ = build_train_dataset('ours', data_root, ann_file, img_prefix,
                                   scale, fuse=True)
    mmdet, _ = build_train_dataset('mmdet', data_root, ann_file, img_prefix,
                                   scale)
    return dict(three_step=three, fused=fused, mmdet=mmdet,
                megvii=build_megvii_pipeline(
                    data_root, ann_file, img_prefix, scale,
                    _coco_yolox_pipeline(scale)))


def decodes_per_sample(dataset, samples: int, seed: int) -> float:
    """Mean image loads of the wrapped dataset per sample (``dataset[i]``
    for ``samples`` indices)."""
    attr = '_dataset' if hasattr(dataset, '_dataset') else 'dataset'
    inner = getattr(dataset, attr)
    counting = _CountingDataset(inner)
    setattr(dataset, attr, counting)
    try:
        np.random.seed(seed)
        random.seed(seed)
        for i in range(samples):
            dataset[i % len(dataset)]
    finally:
        setattr(dataset, attr, inner)
    return counting.calls / samples


def floor(image_paths: List[str], scale: int,
          repeats: int = 3) -> Tuple[float, float]:
    """``(decode ms, resize ms)`` per image, medians: mmcv's decode of the
    file's bytes (what ``LoadImageFromFile`` does: read + cv2 decode) and
    one ``cv2.resize`` (bilinear) of the decoded image to fit ``scale x
    scale`` (keep ratio)."""
    decode, resize = [], []
    for _ in range(repeats):
        for path in image_paths:
            start = time.perf_counter()
            with open(path, 'rb') as f:
                img = mmcv.imfrombytes(f.read(), backend='cv2')
            decode.append(time.perf_counter() - start)
            h, w = img.shape[:2]
            ratio = min(scale / w, scale / h)
            start = time.perf_counter()
            cv2.resize(img, (int(w * ratio), int(h * ratio)),
                       interpolation=cv2.INTER_LINEAR)
            resize.append(time.perf_counter() - start)
    return 1e3 * statistics.median(decode), 1e3 * statistics.median(resize)


def rates(datasets: Dict[str, object], samples: int, repeats: int,
          batches: int, seed: int) -> Dict[str, Tuple[float, float]]:
    """Samples/s ``(one process, 2-worker DataLoader)`` of each dataset,
    measured as section c does (:func:`.data.pipeline_rates`: one process
    interleaved, then each DataLoader in turn), OpenCV threads 0."""
    sizes = dataclasses.replace(FULL, c_samples=samples, repeats=repeats,
                                warmup=1, c_batch=8, c_batches=batches)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(0)
    try:
        return pipeline_rates(datasets, sizes, seed,
                              config_collates(datasets))
    finally:
        cv2.setNumThreads(threads)


def _box_stats(boxes: List[np.ndarray]) -> Dict[str, float]:
    """Count per sample and w / h / area: mean and 10/50/90 % quantiles."""
    out = {'count mean': float(np.mean([len(b) for b in boxes]))}
    cat = np.concatenate(boxes, 0) if boxes else np.zeros((0, 4))
    w, h = cat[:, 2] - cat[:, 0], cat[:, 3] - cat[:, 1]
    for name, v in (('w', w), ('h', h), ('area', w * h)):
        out[f'{name} mean'] = float(v.mean())
        for q in (10, 50, 90):
            out[f'{name} q{q}'] = float(np.percentile(v, q))
    return out


def compare_paths(ours, fused, samples: int, seed: int) -> dict:
    """``ours`` (three-step) and ``fused`` from the same seed per sample
    (``seed + k`` for sample ``k``): mean |dpixel| of the packed images
    (mean and max over samples), the share of samples with identical
    boxes and labels, and the box statistics of both (:func:`_box_stats`)."""
    diffs, same, boxes = [], 0, {'ours': [], 'fused': []}
    for k in range(samples):
        out = {}
        for name, ds in (('ours', ours), ('fused', fused)):
            np.random.seed(seed + k)
            random.seed(seed + k)
            out[name] = ds[k % len(ds)]
            boxes[name].append(
                out[name]['data_samples'].gt_instances.bboxes.numpy())
        a, b = (out[n]['inputs'] for n in ('ours', 'fused'))
        diffs.append(float((a.int() - b.int()).abs().float().mean()))
        la, lb = (out[n]['data_samples'].gt_instances.labels
                  for n in ('ours', 'fused'))
        same += int(np.array_equal(boxes['ours'][-1], boxes['fused'][-1])
                    and bool((la == lb).all()))
    return dict(mean_abs_diff=float(np.mean(diffs)),
                max_abs_diff=float(np.max(diffs)), same_boxes=same / samples,
                stats={n: _box_stats(b) for n, b in boxes.items()})


def image_paths(data_root: str, ann_file: str, img_prefix: str) -> List[str]:
    """The image files of a COCO json."""
    with open(osp.join(data_root, ann_file)) as f:
        images = json.load(f)['images']
    return [osp.join(data_root, img_prefix, i['file_name']) for i in images]


def synthetic_set(root: str, num: int, img_wh: Tuple[int, int],
                  seed: int) -> Tuple[str, str]:
    """Synthetic JPEGs (:func:`yolox_mm.testing.synthetic.
    write_synthetic_coco`) with the json moved to ``annotations/`` (the
    layout Megvii's ``COCODataset`` reads). Returns ``(ann_file,
    img_prefix)``."""
    from yolox_mm.testing.synthetic import write_synthetic_coco
    ann, prefix = write_synthetic_coco(root, num, img_wh, seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    os.replace(osp.join(root, ann), osp.join(root, 'annotations', ann))
    return osp.join('annotations', ann), prefix


def _rate_lines(rate: Dict[str, Tuple[float, float]],
                decodes: Dict[str, float], floor_ms: Dict[str, float]
                ) -> List[str]:
    lines = ['| pipeline | decodes/sample | floor ms/sample | 1 process '
             'samples/s (ms/sample) | 2 workers samples/s | fused / this '
             '(1 proc, 2 workers) |', '|---|---|---|---|---|---|']
    for name, (one, two) in rate.items():
        lines.append(
            f'| {name} | {decodes[name]:.2f} | {floor_ms[name]:.1f} | '
            f'{one:.1f} ({1e3 / one:.1f}) | {two:.1f} | '
            f'{rate["fused"][0] / one:.2f}x, {rate["fused"][1] / two:.2f}x |')
    return lines


def _stats_lines(cmp: dict) -> List[str]:
    lines = [f'three-step vs fused, same seed per sample: mean |dpixel| of '
             f'the packed image {cmp["mean_abs_diff"]:.3f} (max over samples '
             f'{cmp["max_abs_diff"]:.3f}); identical boxes and labels in '
             f'{100 * cmp["same_boxes"]:.1f} % of the samples', '',
             '| statistic | three-step | fused |', '|---|---|---|']
    for key, value in cmp['stats']['ours'].items():
        lines.append(f'| {key} | {value:.3f} | '
                     f'{cmp["stats"]["fused"][key]:.3f} |')
    return lines


def run(data_root: str, ann_file: str, img_prefix: str, scale: int,
        samples: int, repeats: int, batches: int, stats_samples: int,
        seed: int, which: Tuple[str, ...] = PIPELINES) -> List[str]:
    """The whole comparison as markdown lines: floor (decode, resize),
    decodes per sample, samples/s side by side; with ``stats_samples`` > 0
    also :func:`compare_paths` over that many samples."""
    decode_ms, resize_ms = floor(
        image_paths(data_root, ann_file, img_prefix)[:32], scale)
    datasets = {k: v for k, v in build_all(data_root, ann_file, img_prefix,
                                           scale).items() if k in which}
    decodes = {name: decodes_per_sample(ds, min(samples, 100), seed)
               for name, ds in datasets.items()}
    floor_ms = {name: n * decode_ms + resize_ms
                for name, n in decodes.items()}
    lines = [f'{data_root} ({ann_file}), canvas {scale}; decode '
             f'{decode_ms:.2f} ms/image, resize to the canvas '
             f'{resize_ms:.2f} ms; floor = decodes x decode + 1 resize', '']
    lines += _rate_lines(rates(datasets, samples, repeats, batches, seed),
                         decodes, floor_ms)
    if stats_samples:
        lines += [''] + _stats_lines(compare_paths(
            datasets['three_step'], datasets['fused'], stats_samples, seed))
    return lines
