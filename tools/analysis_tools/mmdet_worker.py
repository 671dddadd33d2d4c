"""The mmdet side of ``tools/analysis_tools/side_by_side.py``: train or test
mmdet 3.3.0's YOLOX with an mmengine ``Runner``, as ``tools/train.py`` /
``tools/test.py`` do for ours.

Usage (run by :mod:`yolox_mm.analysis.side_by_side.runs`)::

    python tools/analysis_tools/mmdet_worker.py train CFG WORK_DIR
    python tools/analysis_tools/mmdet_worker.py test CFG WORK_DIR CKPT

Training never imports yolox_mm (checked after the run and recorded in
``worker.json``, ``yolox_mm_imported``; a run that imported it fails).
Testing imports only what loading the checkpoint needs, the allow-list of
:func:`yolox_mm.utils.checkpoint.register_safe_globals` (torch >= 2.6
loads weights-only; mmengine checkpoints hold ``HistoryBuffer`` objects);
``import yolox_mm`` changes nothing outside yolox_mm, and the test run
checks that the model is mmdet's and that mmengine's checkpoint loader is
still mmengine's (``worker_test.json``).
"""
import json
import os.path as osp
import sys
from typing import List


def _imported_yolox_mm() -> List[str]:
    return sorted(m for m in sys.modules
                  if m == 'yolox_mm' or m.startswith('yolox_mm.'))


def _mmdet_only(runner) -> dict:
    """What the test run used: the model's module and mmengine's local
    checkpoint loader (not yolox_mm's)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    model = getattr(runner.model, 'module', runner.model)
    loader = CheckpointLoader._schemes.get('')
    return dict(model_module=type(model).__module__,
                local_loader=f'{loader.__module__}.{loader.__name__}')


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
        imported = _imported_yolox_mm()
        with open(osp.join(work_dir, 'worker.json'), 'w') as f:
            json.dump(dict(mode=mode, yolox_mm_imported=bool(imported),
                           yolox_mm_modules=imported[:5]), f, indent=1)
        if imported:
            raise SystemExit(
                f'the mmdet run imported yolox_mm: {imported[:5]}')
    elif mode == 'test':
        from yolox_mm.utils.checkpoint import register_safe_globals
        register_safe_globals()
        cfg.load_from = argv[3]
        runner = Runner.from_cfg(cfg)
        metrics = runner.test()
        used = _mmdet_only(runner)
        with open(osp.join(osp.dirname(work_dir), 'worker_test.json'),
                  'w') as f:
            json.dump(dict(mode=mode, **used), f, indent=1)
        if not used['model_module'].startswith('mmdet.') or \
                used['local_loader'].startswith('yolox_mm.'):
            raise SystemExit(f'the mmdet test run used yolox_mm: {used}')
        if 'coco/bbox_mAP' in metrics:
            print(f"bbox mAP = {metrics['coco/bbox_mAP']:.3f}, "
                  f"mAP@0.5 = {metrics['coco/bbox_mAP_50']:.3f}")
    else:
        raise SystemExit(f'unknown worker mode {mode!r}')


if __name__ == '__main__':
    main(sys.argv[1:])
