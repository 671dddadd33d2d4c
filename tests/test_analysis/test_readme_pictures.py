"""``yolox_mm.analysis.readme_pictures`` and ``tools/analysis_tools/
readme_pictures.py`` (``make pictures``) on a fake training work dir: the
tiny config and checkpoint, ``last_checkpoint`` and a json log written by
the test."""
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from yolox_mm.analysis.readme_pictures import (find_run_files,
                                               write_readme_pictures)
from .tiny_data import (BOXES, IMAGE_SHAPE, REPO, train_line,
                        write_scalars_log)

README_PICTURES = REPO / 'tools' / 'analysis_tools' / 'readme_pictures.py'


@pytest.fixture
def work_dir(tiny, tmp_path):
    run = tmp_path / 'tiny_run'
    run.mkdir()
    shutil.copy(tiny.config, run / 'tiny_run.py')
    shutil.copy(tiny.checkpoint, run / 'epoch_2.pth')
    (run / 'last_checkpoint').write_text(str(run / 'epoch_2.pth'))
    write_scalars_log(run, '20261201_100000', [
        train_line(1, 1, 3.0, 0.5), train_line(2, 1, 2.0, 0.5),
        {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.3, 'step': 1},
        train_line(3, 2, 1.5, 0.5), train_line(4, 2, 1.0, 0.5),
        {'coco/bbox_mAP': 0.2, 'coco/bbox_mAP_50': 0.4, 'step': 2}])
    return run


def whitish_top_edge(picture, box):
    """Share of the columns of a GT's top edge that are near-white in the
    rows y-1..y+1 (mmengine's matplotlib rendering blends a 1-px line
    over two rows)."""
    x, y, w, _ = box
    band = picture[max(y - 1, 0):y + 2, x:x + w + 1].min(axis=2)
    return (band.max(axis=0) >= 200).mean()


def test_write_readme_pictures(tiny, work_dir, tmp_path):
    out = tmp_path / 'docs'
    paths = write_readme_pictures(str(work_dir), str(out), prefix='tiny',
                                  image='img2.png')
    assert paths['checkpoint'] == str(work_dir / 'epoch_2.pth')
    curves = cv2.imread(str(out / 'tiny_curves.png'))
    assert curves.shape == (300, 800, 3) and curves.std() > 10
    picture = cv2.imread(str(out / 'tiny_detections.png'))
    original = cv2.imread(str(tiny.root / 'images' / 'img2.png'))
    assert picture.shape == original.shape == IMAGE_SHAPE + (3, )
    # boxes drawn over the image, not a shrunk copy of it (a palette PNG:
    # colours differ a little everywhere)
    diff = np.abs(picture.astype(int) - original).max(axis=2)
    assert np.median(diff) < 20
    changed = (diff > 60).mean()
    assert 0.02 < changed < 0.7, changed
    # GT boxes drawn white (where no detection or label is drawn over
    # them: the crafted model's boxes and labels cover much of the image)
    white = [whitish_top_edge(picture, box) for _, box in BOXES[2]]
    assert max(white) > 0.5, white


def test_find_run_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        find_run_files(str(tmp_path / 'nope'))
    (tmp_path / 'a.py').write_text('')
    (tmp_path / 'b.py').write_text('')
    with pytest.raises(FileNotFoundError, match='expected one config'):
        find_run_files(str(tmp_path))
    (tmp_path / 'b.py').unlink()
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        find_run_files(str(tmp_path))


@pytest.mark.slow  # a subprocess (pytest.ini)
def test_readme_pictures_cli(work_dir, tmp_path):
    out = tmp_path / 'docs'
    proc = subprocess.run([sys.executable, str(README_PICTURES),
                           str(work_dir), '--out-dir', str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ('trees_detections.png', 'trees_curves.png'):
        img = cv2.imread(str(out / name))
        assert img is not None and np.asarray(img).std() > 10, name
