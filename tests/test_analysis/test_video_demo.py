"""``yolox_mm.analysis.video`` and ``demo/video_demo.py`` on a 5-frame video
the test writes with ``cv2.VideoWriter``: every frame read, detected and
written, with the detections of mmdet's ``inference_detector`` frame by
frame."""
import subprocess
import sys

import cv2
import pytest
from mmdet.apis import inference_detector, init_detector

from tests.test_deploy.detectors import synthetic_image
from yolox_mm.analysis.video import detect_video
from .tiny_data import REPO

VIDEO_DEMO = REPO / 'demo' / 'video_demo.py'
SIZE = (160, 120)  # width, height
FPS = 10


def read_frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp('video') / 'in.mp4'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), FPS,
                             SIZE)
    for seed in range(5):
        writer.write(synthetic_image(20 + seed, SIZE[1], SIZE[0]))
    writer.release()
    return path


@pytest.fixture(scope='module')
def model(tiny):
    return init_detector(str(tiny.config), str(tiny.checkpoint),
                         device='cpu')


def test_detect_video(model, video, tmp_path):
    out = tmp_path / 'out.mp4'
    summary = detect_video(model, str(video), str(out), score_thr=0.3)
    frames = read_frames(video)  # the decoded frames the demo saw
    expected = [
        int((inference_detector(model, f).pred_instances.scores >= 0.3).sum())
        for f in frames
    ]
    assert summary.frames == 5 and summary.size == SIZE
    assert summary.fps == FPS
    assert summary.detections == expected and sum(expected) > 0
    drawn = read_frames(out)
    assert len(drawn) == 5 and drawn[0].shape == (SIZE[1], SIZE[0], 3)
    # boxes drawn: the written frames differ from the input frames
    assert all((abs(d.astype(int) - f).max(axis=2) > 40).mean() > 0.01
               for d, f in zip(drawn, frames))
    assert detect_video(model, str(video), max_frames=2).frames == 2


def test_detect_video_bad_source(model, tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        detect_video(model, str(tmp_path / 'nope.mp4'))
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video')
    with pytest.raises(RuntimeError, match='cannot open'):
        detect_video(model, str(broken))


@pytest.mark.slow  # a subprocess (pytest.ini)
def test_video_demo_cli(tiny, video, tmp_path):
    out = tmp_path / 'drawn.mp4'
    proc = subprocess.run(
        [sys.executable, str(VIDEO_DEMO), str(video), str(tiny.config),
         str(tiny.checkpoint), '--out', str(out), '--device', 'cpu',
         '--max-frames', '3'], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '3 frames (160x120, 10 fps): ' in proc.stdout
    assert len(read_frames(out)) == 3
