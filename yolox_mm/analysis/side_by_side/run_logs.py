"""Metrics of a run, read from mmengine's json logs (never from stdout).

The val curve comes from the training log ``<ts>/vis_data/<ts>.json``, the
test metrics from ``test/<ts>/<ts>.json``.
"""
import json
import os.path as osp
from glob import glob
from pathlib import Path
from typing import List, Optional


def _json_records(path: str) -> List[dict]:
    """The records of a json-lines log."""
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                records.append(json.loads(line))
    return records


def _newest_train_log(run_dir: str) -> Optional[str]:
    logs = sorted(glob(osp.join(run_dir, '*', 'vis_data', '*.json')))
    logs = [p for p in logs if osp.basename(p) != 'scalars.json']
    return logs[-1] if logs else None


def read_val_curve(run_dir: str) -> List[dict]:
    """The val evaluations of the newest training log in ``run_dir``:
    ``[{'epoch', 'bbox_mAP', 'bbox_mAP_50'}]``. A val record without COCO
    metrics (CocoMetric returns none when there is no detection at all)
    counts as 0 with ``no_detections``."""
    log = _newest_train_log(run_dir)
    if log is None:
        return []
    curve = []
    for rec in _json_records(log):
        if 'epoch' in rec or 'lr' in rec:
            continue  # a training record
        point = dict(epoch=rec['step'],
                     bbox_mAP=rec.get('coco/bbox_mAP', 0.0),
                     bbox_mAP_50=rec.get('coco/bbox_mAP_50', 0.0))
        if 'coco/bbox_mAP' not in rec:
            point['no_detections'] = True
        curve.append(point)
    return curve


def read_train_epochs(run_dir: str) -> int:
    """The last training epoch in the newest training log (0 if none)."""
    log = _newest_train_log(run_dir)
    epochs = [r['epoch'] for r in _json_records(log) if 'epoch' in r] \
        if log else []
    return max(epochs) if epochs else 0


EMPTY_RESULTS = 'The testing results of the whole dataset is empty'


def read_test_metrics(test_dir: str, log: Optional[str] = None) -> dict:
    """The metrics of the newest test json log (``<ts>/<ts>.json``). If it
    has no COCO metrics because there was no detection at all (``log``, the
    test's stdout, says so), bbox mAP and mAP@0.5 are 0 with
    ``no_detections``."""
    logs = sorted(glob(osp.join(test_dir, '*', '*.json')))
    if not logs:
        raise RuntimeError(f'no test json log under {test_dir}')
    recs = _json_records(logs[-1])
    for rec in reversed(recs):
        if 'coco/bbox_mAP' in rec:
            return dict(rec, json=logs[-1])
    if log is not None and EMPTY_RESULTS in Path(log).read_text():
        return {'coco/bbox_mAP': 0.0, 'coco/bbox_mAP_50': 0.0,
                'no_detections': True, 'json': logs[-1]}
    raise RuntimeError(f'no coco/bbox_mAP in {logs[-1]}')
