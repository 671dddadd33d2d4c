"""Confusion matrix of a test run's detections (mmdet's counting, a
legible picture and the numbers as json).

First dump the detections, then count::

    python tools/test.py CONFIG CHECKPOINT --out work_dirs/results.pkl
    python tools/analysis_tools/confusion_matrix.py CONFIG \\
        work_dirs/results.pkl work_dirs/confusion [--score-thr 0.3] \\
        [--tp-iou-thr 0.5] [--nms-iou-thr IOU] [--cfg-options k=v ...]

Writes ``SAVE_DIR/confusion_matrix.png`` and ``confusion_matrix.json``
(rows GT class, columns predicted class, background last) and prints the
counts. Arguments as mmdet's ``tools/analysis_tools/confusion_matrix.py``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmengine.config import DictAction  # noqa: E402
from mmengine.fileio import load  # noqa: E402

from yolox_mm.utils.launch import read_config  # noqa: E402
from yolox_mm.analysis.confusion import (confusion_matrix,  # noqa: E402
                                         format_matrix,
                                         save_confusion_matrix)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument('prediction_path',
                        help='detections of tools/test.py --out (.pkl)')
    parser.add_argument('save_dir', help='folder for the outputs')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='count detections with score >= this')
    parser.add_argument('--tp-iou-thr', type=float, default=0.5,
                        help='IoU with a GT to count as matching it')
    parser.add_argument('--nms-iou-thr', type=float, default=None,
                        help='re-run NMS per class at this IoU first')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmengine.registry import init_default_scope

    from yolox_mm.registry import DATASETS
    cfg = read_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'yolox_mm'))
    results = load(args.prediction_path)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    matrix = confusion_matrix(dataset, results, args.score_thr,
                              args.tp_iou_thr, args.nms_iou_thr)
    classes = dataset.metainfo['classes']
    os.makedirs(args.save_dir, exist_ok=True)
    paths = save_confusion_matrix(matrix, classes, args.save_dir,
                                  score_thr=args.score_thr,
                                  tp_iou_thr=args.tp_iou_thr,
                                  nms_iou_thr=args.nms_iou_thr)
    print('\n' + format_matrix(matrix, classes))
    print(f'saved {paths["png"]} and {paths["json"]}')


if __name__ == '__main__':
    main()
