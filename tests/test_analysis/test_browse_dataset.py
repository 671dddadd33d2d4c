"""``tools/analysis_tools/browse_dataset.py`` (mmdet 3.3.0's script, run
through ``yolox_mm.analysis.mmdet_tools``) on the tiny config: one drawn
training sample (Mosaic, RandomAffine, HSV, flip) a dataset image, at the
128 x 128 canvas."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

from yolox_mm.analysis.mmdet_tools import load_tool, tool_path
from .tiny_data import BOXES, REPO

BROWSE = REPO / 'tools' / 'analysis_tools' / 'browse_dataset.py'


@pytest.mark.slow  # a subprocess (pytest.ini)
def test_browse_dataset_cli(tiny, tmp_path):
    out = tmp_path / 'browse'
    proc = subprocess.run([sys.executable, str(BROWSE), str(tiny.config),
                           '--not-show', '--output-dir', str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = sorted(p.name for p in out.iterdir())
    assert names == [f'img{i}.png' for i in range(len(BOXES))]
    drawn = [cv2.imread(str(out / n)) for n in names]
    assert all(img.shape == (128, 128, 3) for img in drawn)
    # a mosaic sample is not the letterboxed image itself
    for name, img in zip(names, drawn):
        original = cv2.imread(str(tiny.root / 'images' / name))
        letterboxed = np.full((128, 128, 3), 114, np.uint8)
        letterboxed[:96] = cv2.resize(original, (128, 96))
        assert np.abs(img.astype(int) - letterboxed).mean() > 5, name


def test_mmdet_tools_lookup():
    assert tool_path('analysis_tools/browse_dataset.py').endswith(
        'mmdet/.mim/tools/analysis_tools/browse_dataset.py')
    assert hasattr(load_tool('analysis_tools/confusion_matrix.py'),
                   'calculate_confusion_matrix')
    with pytest.raises(FileNotFoundError, match='has no tools/nope.py'):
        tool_path('nope.py')
