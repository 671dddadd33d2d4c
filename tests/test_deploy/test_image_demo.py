"""``demo/image_demo.py`` (mmdet's DetInferencer) on a saved yolox_mm
checkpoint: a folder of images in, drawn images and JSON predictions out,
same detections as ``model.predict`` in original-image pixels."""
import json
import runpy
import sys

import cv2
import numpy as np
import pytest
import torch

from .detectors import (REPO, TREE_CFG, load_cfg, make_detector, preprocess,
                        synthetic_image)


def test_image_demo_folder(synthetic_images, tmp_path, monkeypatch, capsys):
    cfg = load_cfg(TREE_CFG)
    model = make_detector(cfg, synthetic_images, ('tree', ))
    cfg_file = tmp_path / 'tree.py'
    cfg.dump(str(cfg_file))  # with the crafted test_cfg
    ckpt = tmp_path / 'tree.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': model.dataset_meta}}, ckpt)
    images = {'a.png': synthetic_image(1), 'b.jpg': synthetic_image(2, 300,
                                                                    400)}
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    for name, image in images.items():
        cv2.imwrite(str(img_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY,
                                                 100])
    out_dir = tmp_path / 'out'
    monkeypatch.setattr(sys, 'argv', [
        'image_demo.py', str(img_dir), str(cfg_file), '--weights',
        str(ckpt), '--out-dir', str(out_dir), '--pred-score-thr', '0.3',
        '--device', 'cpu', '--batch-size', '2'
    ])
    runpy.run_path(str(REPO / 'demo' / 'image_demo.py'), run_name='__main__')
    stdout = capsys.readouterr().out

    assert sorted(p.name for p in (out_dir / 'vis').iterdir()) == [
        'a.png', 'b.jpg'
    ]
    drawn = cv2.imread(str(out_dir / 'vis' / 'a.png'))
    original = cv2.imread(str(img_dir / 'a.png'))
    assert drawn.shape == original.shape
    assert (drawn != original).any(), 'nothing drawn'
    # drawn over the image, not over a shrunk copy (matplotlib >= 3.11
    # rescales the view to boxes that extend past the image): most pixels
    # are unchanged
    assert (drawn == original).all(axis=2).mean() > 0.5

    # predictions: those of model.predict(rescale=True) on the read image
    pred = json.loads((out_dir / 'preds' / 'b.json').read_text())
    inputs, samples = preprocess(model, [cv2.imread(str(img_dir / 'b.jpg'))])
    with torch.no_grad():
        expected = model.predict(inputs, samples, rescale=True)[0]
    expected = expected.pred_instances
    assert len(pred['scores']) == len(expected) > 0
    np.testing.assert_allclose(pred['bboxes'], expected.bboxes.numpy(),
                               atol=1e-3)
    kept = int((expected.scores >= 0.3).sum())
    assert f'b.jpg: {kept} detections with score >= 0.3 ({kept} tree)' \
        in stdout
    assert 'results in' in stdout


def test_image_demo_missing_input(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [
        'image_demo.py', str(tmp_path / 'nope'), str(TREE_CFG)])
    with pytest.raises(FileNotFoundError, match='neither a file nor'):
        runpy.run_path(str(REPO / 'demo' / 'image_demo.py'),
                       run_name='__main__')
