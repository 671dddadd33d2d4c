"""A real (tiny) training run through ``tools/train.py --tensorboard``,
then the tools that read its work dir: TensorBoard event files with the
logged losses (read back with tensorboard's ``EventAccumulator``), the json
log of ``analyze_logs``, and ``make pictures``' README pictures.

Needs the ``tensorboard`` package (``pip install tensorboard==2.21.0``):
mmengine's ``TensorboardVisBackend`` writes through
``torch.utils.tensorboard``.
"""
import glob
import subprocess
import sys

import cv2
import pytest
from mmengine.config import Config

from yolox_mm.analysis.log_curves import load_scalars
from yolox_mm.analysis.readme_pictures import write_readme_pictures
from yolox_mm.utils.launch import enable_tensorboard
from .tiny_data import REPO

TRAIN = REPO / 'tools' / 'train.py'


def test_enable_tensorboard_adds_backend_once(tiny):
    cfg = Config.fromfile(str(tiny.config))
    enable_tensorboard(cfg)
    enable_tensorboard(cfg)
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'LocalVisBackend', 'TensorboardVisBackend']
    with pytest.raises(ValueError, match='needs a visualizer'):
        enable_tensorboard(Config(dict()))


@pytest.mark.slow
def test_tiny_training_logs(tiny, tmp_path):
    try:
        from tensorboard.backend.event_processing.event_accumulator import \
            EventAccumulator
    except ImportError:
        pytest.fail('tensorboard is not installed: pip install '
                    'tensorboard==2.21.0 (TensorboardVisBackend needs it)')
    work_dir = tmp_path / 'tiny'
    proc = subprocess.run(
        [sys.executable, str(TRAIN), str(tiny.config), '--work-dir',
         str(work_dir), '--tensorboard', '--cfg-options',
         'train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
         'default_hooks.logger.interval=1'],
        capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    events = glob.glob(str(work_dir / '*' / 'vis_data' / 'events.out.*'))
    assert len(events) == 1, events
    accumulator = EventAccumulator(events[0])
    accumulator.Reload()
    scalars = load_scalars(str(work_dir))  # the json log of the same run
    # 4 images, batch 2: 2 iterations an epoch, logged every iteration
    assert [s for s, _ in scalars.train['loss']] == [1, 2, 3, 4]
    logged = [(e.step, e.value) for e in accumulator.Scalars('loss')]
    assert [s for s, _ in logged] == [1, 2, 3, 4]
    for (_, tb), (_, js) in zip(logged, scalars.train['loss']):
        assert tb == pytest.approx(js, rel=1e-4)
    # an evaluation that finds no detection logs no metric (CocoMetric)
    val_steps = [s for s, _ in scalars.val['coco/bbox_mAP']]
    assert val_steps and set(val_steps) <= {1, 2}
    assert [e.step for e in accumulator.Scalars('coco/bbox_mAP')] == \
        val_steps

    paths = write_readme_pictures(str(work_dir), str(tmp_path / 'docs'))
    assert cv2.imread(paths['curves']).shape == (300, 800, 3)
    assert cv2.imread(paths['detections']) is not None
