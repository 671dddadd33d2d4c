"""``yolox_mm.analysis.log_curves`` and ``tools/analysis_tools/
analyze_logs.py`` on a json log written by the test in mmengine's format
(``<timestamp>/vis_data/scalars.json``), numbers known by construction."""
import subprocess
import sys

import cv2
import pytest

from yolox_mm.analysis.log_curves import (load_scalars, loss_keys,
                                          mean_iter_times, plot_curves)
from .tiny_data import REPO, train_line
from .tiny_data import write_scalars_log as write_run

ANALYZE_LOGS = REPO / 'tools' / 'analysis_tools' / 'analyze_logs.py'


@pytest.fixture
def work_dir(tmp_path):
    """Two epochs of 4 iterations, logged every 2 iterations, validated
    after each epoch; then a resumed run repeating step 8 and adding
    epoch 3."""
    first = [train_line(2, 1, 4.0, 0.9),
             # an evaluation without detections logs no metric, only its
             # time, with step = epoch = 2: not the training step 2
             {'data_time': 0.05, 'time': 7.0, 'step': 2},
             train_line(4, 1, 3.0, 0.5),
             {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.3, 'time': 0.2,
              'data_time': 0.1, 'step': 1},
             train_line(6, 2, 2.0, 0.6), train_line(8, 2, 1.5, 0.4),
             {'coco/bbox_mAP': 0.2, 'coco/bbox_mAP_50': 0.5, 'step': 2}]
    resumed = [train_line(8, 2, 1.4, 0.4), train_line(10, 3, 1.0, 0.3),
               {'coco/bbox_mAP': 0.25, 'coco/bbox_mAP_50': 0.55, 'step': 3}]
    write_run(tmp_path, '20261201_100000', first)
    write_run(tmp_path, '20261201_110000', resumed)
    return tmp_path


def test_load_scalars_merges_runs(work_dir):
    scalars = load_scalars(str(work_dir))
    assert scalars.train['loss'] == [(2, 4.0), (4, 3.0), (6, 2.0), (8, 1.4),
                                     (10, 1.0)]
    assert scalars.train['loss_cls'][-1] == (10, 0.5)
    assert 'memory' not in scalars.train and 'epoch' not in scalars.train
    assert scalars.val['coco/bbox_mAP'] == [(1, 0.1), (2, 0.2), (3, 0.25)]
    # the validation line's time is not a training curve
    assert scalars.train['time'][:2] == [(2, 0.9), (4, 0.5)]
    assert scalars.epochs == {2: 1, 4: 1, 6: 2, 8: 2, 10: 3}
    assert loss_keys(scalars) == ['loss', 'loss_bbox', 'loss_cls',
                                  'loss_obj']


def test_mean_iter_times_skip_first_of_epoch(work_dir):
    # epoch 1: (0.9, 0.5) -> 0.5; epoch 2: (0.6, 0.4) -> 0.4; epoch 3: 0.3
    assert mean_iter_times(load_scalars(str(work_dir))) == [
        (1, 0.5), (2, 0.4), (3, 0.3)]


def test_plot_curves_png(work_dir, tmp_path):
    out = plot_curves(load_scalars(str(work_dir)), str(tmp_path / 'c.png'))
    img = cv2.imread(out)
    assert img.shape == (360, 900, 3)
    assert img.std() > 10, 'blank picture'
    with pytest.raises(KeyError, match='loss_nope'):
        plot_curves(load_scalars(str(work_dir)), str(tmp_path / 'x.png'),
                    train_keys=['loss_nope'])


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match='vis_data/scalars.json'):
        load_scalars(str(tmp_path))
    log = write_run(tmp_path, '20261201_100000', [])
    log.write_text('{"loss": 1.0}\n')
    with pytest.raises(ValueError, match=r'scalars.json:1: .*"step"'):
        load_scalars(str(log))


@pytest.mark.slow  # a subprocess (pytest.ini)
def test_analyze_logs_cli(work_dir, tmp_path):
    out = tmp_path / 'curves.png'
    plot = subprocess.run(
        [sys.executable, str(ANALYZE_LOGS), 'plot_curve', str(work_dir),
         '--out', str(out), '--keys', 'loss', 'loss_cls'],
        capture_output=True, text=True, cwd=REPO)
    assert plot.returncode == 0, plot.stderr[-2000:]
    assert cv2.imread(str(out)).shape == (360, 900, 3)
    assert "'coco/bbox_mAP': (3, 0.25)" in plot.stdout
    times = subprocess.run(
        [sys.executable, str(ANALYZE_LOGS), 'cal_train_time', str(work_dir)],
        capture_output=True, text=True, cwd=REPO)
    assert times.returncode == 0, times.stderr[-2000:]
    assert 'epoch 2: 0.4000 s/iter' in times.stdout
    assert 'slowest epoch 1 (0.5000 s/iter), fastest epoch 3 (0.3000 ' \
        's/iter), mean 0.4000 s/iter' in times.stdout
