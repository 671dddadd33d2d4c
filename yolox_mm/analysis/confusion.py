"""Confusion matrix of detections against the GT of a dataset.

The counting is mmdet 3.3.0's own (``tools/analysis_tools/
confusion_matrix.py::calculate_confusion_matrix``, loaded from the mmdet
wheel by :func:`~yolox_mm.analysis.mmdet_tools.load_tool`): ``[C + 1, C +
1]`` counts, row = GT class, column = predicted class, index ``C`` =
background. For each predicted class, each detection with score >=
``score_thr`` adds 1 to ``[gt_label, det_label]`` for **every** GT it
overlaps with IoU >= ``tp_iou_thr`` (so one detection may count more than
once), or to ``[C, det_label]`` (background false positive) if none; a GT
that no detection of its own class matched adds 1 to ``[gt_label, C]``
(missed).

Only the picture is ours: mmdet sizes its figure at 0.5 inch a class, which
for one or two classes cuts the labels off; here it is at least 4 inches,
and the numbers are also written as json.
"""
import json
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from .mmdet_tools import load_tool


def confusion_matrix(dataset, results: Sequence[dict], score_thr: float = 0.3,
                     tp_iou_thr: float = 0.5,
                     nms_iou_thr: Optional[float] = None) -> np.ndarray:
    """mmdet's ``calculate_confusion_matrix``.

    Args:
        dataset: The test dataset (``metainfo['classes']``,
            ``get_data_info(i)['instances']``), in the order of ``results``.
        results (Sequence[dict]): Per image, ``pred_instances`` with
            ``bboxes [K, 4]`` xyxy original-image pixels, ``scores [K]``,
            ``labels [K]`` (what ``tools/test.py --out`` dumps).
        score_thr, tp_iou_thr, nms_iou_thr: As mmdet's.

    Returns:
        np.ndarray: ``[C + 1, C + 1]`` float counts (see the module doc).

    Raises:
        ValueError: when ``results`` and ``dataset`` differ in length.
    """
    if len(results) != len(dataset):
        raise ValueError(f'{len(results)} results for a dataset of '
                         f'{len(dataset)} images: run tools/test.py --out '
                         'with the same config')
    tool = load_tool('analysis_tools/confusion_matrix.py')
    return tool.calculate_confusion_matrix(dataset, results, score_thr,
                                           nms_iou_thr, tp_iou_thr)


def plot_confusion_matrix(matrix: np.ndarray, classes: Sequence[str],
                          out_file: str, title: str = '',
                          cmap: str = 'plasma') -> str:
    """Draw the row-normalised matrix (percent of each GT class; the
    background row: percent of the false positives) with the counts.

    Returns:
        str: ``out_file``.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state
    labels = list(classes) + ['background']
    n = len(labels)
    sums = matrix.sum(axis=1, keepdims=True)
    percent = np.divide(matrix * 100, sums, out=np.zeros_like(matrix),
                        where=sums > 0)
    side = max(4.0, 0.6 * n + 2)
    fig = Figure(figsize=(side, side * 0.85), dpi=100)
    ax = fig.subplots()
    im = ax.imshow(percent, cmap=cmap, vmin=0, vmax=100)
    fig.colorbar(im, ax=ax, label='% of the row')
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f'{percent[i, j]:.0f}%\n({int(matrix[i, j])})',
                    ha='center', va='center', fontsize=8,
                    color='white' if percent[i, j] < 60 else 'black')
    ax.set_xticks(range(n), labels, rotation=45, ha='right')
    ax.set_yticks(range(n), labels)
    ax.set_xlabel('predicted')
    ax.set_ylabel('ground truth')
    ax.set_title(title or 'confusion matrix')
    fig.tight_layout()
    fig.savefig(out_file)
    return out_file


def save_confusion_matrix(matrix: np.ndarray, classes: Sequence[str],
                          save_dir: str, **settings) -> dict:
    """Write ``confusion_matrix.png`` and ``confusion_matrix.json``
    (``classes``, ``labels`` with ``background`` last, ``matrix`` counts,
    ``settings``) to ``save_dir``; return the paths."""
    png = plot_confusion_matrix(matrix, classes,
                                osp.join(save_dir, 'confusion_matrix.png'))
    path = osp.join(save_dir, 'confusion_matrix.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(dict(classes=list(classes),
                       labels=list(classes) + ['background'],
                       matrix=matrix.astype(int).tolist(),
                       settings=settings), f, indent=1)
    return dict(png=png, json=path)


def format_matrix(matrix: np.ndarray, classes: Sequence[str]) -> str:
    """The counts as a text table (rows GT, columns predicted)."""
    labels = list(classes) + ['background']
    width = max(len(s) for s in labels + ['GT \\ pred']) + 1
    lines = ['GT \\ pred'.ljust(width) + ''.join(s.rjust(width)
                                                 for s in labels)]
    for name, row in zip(labels, matrix):
        lines.append(name.ljust(width) + ''.join(
            str(int(v)).rjust(width) for v in row))
    return '\n'.join(lines)
