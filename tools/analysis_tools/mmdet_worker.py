"""The mmdet side of ``tools/analysis_tools/side_by_side.py``: train or test
mmdet 3.3.0's YOLOX with an mmengine ``Runner``, as ``tools/train.py`` /
``tools/test.py`` do for ours, without importing yolox_mm (checked after
the run, recorded in ``worker.json`` / ``worker_test.json``; a run that
imported it fails).

Usage (run by :mod:`yolox_mm.analysis.side_by_side.runs`)::

    python tools/analysis_tools/mmdet_worker.py train CFG WORK_DIR
    python tools/analysis_tools/mmdet_worker.py test CFG WORK_DIR CKPT

It stays a script outside the package: importing anything of
``yolox_mm.*`` would import yolox_mm.
"""
import json
import os.path as osp
import sys
from typing import List


def _allow_mmengine_checkpoints() -> None:
    """torch >= 2.6 loads weights-only: allow-list the non-tensor globals
    of mmengine checkpoints (the list of yolox_mm.utils.checkpoint, copied
    here so that the mmdet run does not import yolox_mm)."""
    import numpy as np
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    dtypes = {type(np.dtype(t)) for t in (np.float16, np.float32, np.float64,
                                          np.int32, np.int64, np.bool_)}
    torch.serialization.add_safe_globals([
        HistoryBuffer, multiarray._reconstruct, multiarray.scalar,
        np.ndarray, np.dtype, getattr, *sorted(dtypes, key=str)
    ])


def main(argv: List[str]) -> None:
    """``train CFG WORK_DIR`` or ``test CFG WORK_DIR CKPT``: an mmengine
    Runner, as tools/train.py / tools/test.py do."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    mode, cfg_path, work_dir = argv[:3]
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    if mode == 'train':
        runner = Runner.from_cfg(cfg)
        runner.train()
    elif mode == 'test':
        _allow_mmengine_checkpoints()
        cfg.load_from = argv[3]
        runner = Runner.from_cfg(cfg)
        metrics = runner.test()
        if 'coco/bbox_mAP' in metrics:
            print(f"bbox mAP = {metrics['coco/bbox_mAP']:.3f}, "
                  f"mAP@0.5 = {metrics['coco/bbox_mAP_50']:.3f}")
    else:
        raise SystemExit(f'unknown worker mode {mode!r}')
    imported = sorted(m for m in sys.modules
                      if m == 'yolox_mm' or m.startswith('yolox_mm.'))
    out = osp.join(work_dir if mode == 'train' else osp.dirname(work_dir),
                   'worker.json' if mode == 'train' else 'worker_test.json')
    with open(out, 'w') as f:
        json.dump(dict(mode=mode, yolox_mm_imported=bool(imported),
                       yolox_mm_modules=imported[:5]), f, indent=1)
    if imported:
        raise SystemExit(f'the mmdet run imported yolox_mm: {imported[:5]}')


if __name__ == '__main__':
    main(sys.argv[1:])
