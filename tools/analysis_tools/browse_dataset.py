"""Draw the training samples of a config (its train pipeline's output:
Mosaic, RandomAffine, MixUp ..., boxes and class names) to image files.

mmdet 3.3.0's ``tools/analysis_tools/browse_dataset.py`` runs unchanged on
yolox_mm configs; this runs that script (shipped in the mmdet wheel under
``mmdet/.mim/tools``) with the same arguments::

    python tools/analysis_tools/browse_dataset.py CONFIG --not-show \\
        --output-dir work_dirs/browse [--cfg-options k=v ...]

One file a sample, named after its (first) image; every sample of the
dataset is drawn: limit them with e.g. ``--cfg-options
train_dataloader.dataset.dataset.indices=20``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from yolox_mm.analysis.mmdet_tools import run_tool  # noqa: E402

if __name__ == '__main__':
    run_tool('analysis_tools/browse_dataset.py')
