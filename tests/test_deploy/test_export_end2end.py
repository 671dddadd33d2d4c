"""Export of the end-to-end YOLOX (YOLOXPSSHead, no test_cfg.nms): plain
ONNX (``export_onnx``, ``tools/deployment/export_onnx.py``) and mmdeploy's
``torch2onnx`` give graphs **without ``NonMaxSuppression``** whose
onnxruntime detections equal ``model.predict`` (count, order by score,
boxes within 1e-3 px, labels, scores)."""
import copy
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from mmengine.config import Config, ConfigDict

from .detectors import (REPO, assert_same_detections, make_detector,
                        preprocess, synthetic_image, torch_detections)

from yolox_mm.deploy.onnx_export import export_onnx  # noqa: E402

E2E_CFG = REPO / 'configs' / 'yolox_nano_e2e_1xb4-200e_deepforest.py'
E2E_TEST_CFG = dict(score_thr=0.3, nms=dict(type='nms', iou_threshold=0.65),
                    nms_free=True, max_per_img=300)


def e2e_cfg(num_classes: int = 1) -> Config:
    cfg = Config.fromfile(str(E2E_CFG))
    cfg.model.bbox_head.num_classes = num_classes
    cfg.model.test_cfg = ConfigDict(E2E_TEST_CFG)
    return cfg


def make_e2e_detector(images, num_classes=1):
    """The crafted detector of ``detectors.make_detector`` plus a selector
    that passes most priors (bias 3) with varying logits."""
    classes = tuple(f'c{i}' for i in range(num_classes))
    model = make_detector(e2e_cfg(num_classes), images, classes)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for conv in model.bbox_head.multi_level_conv_pss:
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen)
                              * 0.3)
            conv.bias.fill_(3.0)
    return model


@pytest.fixture(scope='module')
def e2e_model(synthetic_images):
    return make_e2e_detector(synthetic_images, num_classes=3)


def assert_same_topk(dets, labels, expected, atol=1e-3):
    """One image: the ONNX ``dets [K, 5]``/``labels [K]`` hold
    ``expected``'s detections one to one (same label, box within ``atol``
    px, score within 1e-3 as in detectors.py), by decreasing score,
    padding last. A prior may appear once per class with the same box, so
    rows are paired on (label, box, score); scores closer than float noise
    may swap places."""
    num = len(expected)
    assert int((labels >= 0).sum()) == num
    assert (labels[:num] >= 0).all() and (dets[num:] == 0).all()
    assert (labels[num:] == -1).all()
    assert (np.diff(dets[:num, 4]) <= 0).all(), 'not by decreasing score'
    boxes, scores = expected.bboxes.numpy(), expected.scores.numpy()
    exp_labels = expected.labels.numpy()
    free = np.ones(num, dtype=bool)
    for i in range(num):
        diff = np.maximum(np.abs(dets[i, :4] - boxes).max(1),
                          np.abs(dets[i, 4] - scores))
        diff[(exp_labels != labels[i]) | ~free] = np.inf
        j = int(diff.argmin())
        assert diff[j] <= atol, f'row {i} has no PyTorch counterpart'
        free[j] = False


def run_onnx(path, inputs):
    session = ort.InferenceSession(str(path),
                                   providers=['CPUExecutionProvider'])
    return session.run(None, {'input': inputs.numpy()})


def _ops(path):
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def test_plain_export_has_no_nms_and_matches_torch(e2e_model, tmp_path,
                                                   synthetic_images):
    path = export_onnx(e2e_model, str(tmp_path / 'e2e.onnx'), (416, 416),
                       dynamic=True)
    ops = _ops(path)
    assert 'NonMaxSuppression' not in ops and 'TopK' in ops
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert meta['postprocess'] == 'top-k, no NMS'
    inputs, samples = preprocess(e2e_model, synthetic_images)
    dets, labels = run_onnx(path, inputs)
    expected = torch_detections(e2e_model, inputs, samples)
    assert dets.shape == (2, 300, 5)
    for i, exp in enumerate(expected):
        assert 0 < len(exp) < 300
        assert_same_topk(dets[i], labels[i], exp)
    assert len(set(expected[0].labels.tolist())) > 1  # several classes


def test_nms_config_still_exports_nms(e2e_model, tmp_path):
    model = copy.deepcopy(e2e_model)
    model.bbox_head.test_cfg = ConfigDict(
        score_thr=0.3, nms=dict(type='nms', iou_threshold=0.65),
        nms_free=False, max_per_img=300)
    path = export_onnx(model, str(tmp_path / 'nms.onnx'), (416, 416))
    assert 'NonMaxSuppression' in _ops(path)
    inputs, samples = preprocess(model, [synthetic_image(1)])
    dets, labels = run_onnx(path, inputs)
    expected, = torch_detections(model, inputs, samples)
    assert len(expected) > 0
    assert_same_detections(dets[0], labels[0], expected)


@pytest.mark.slow
def test_cli_reports_end_to_end(e2e_model, tmp_path):
    ckpt = tmp_path / 'e2e.pth'
    torch.save({'state_dict': e2e_model.state_dict(),
                'meta': {'dataset_meta': e2e_model.dataset_meta}}, ckpt)
    out = tmp_path / 'cli.onnx'
    proc = subprocess.run(
        [sys.executable, 'tools/deployment/export_onnx.py', str(E2E_CFG),
         str(ckpt), '--out', str(out), '--verify', '--cfg-options',
         'model.bbox_head.num_classes=3'],
        cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'end-to-end, no NMS' in proc.stdout
    assert 'NonMaxSuppression' not in _ops(out)


@pytest.mark.slow
def test_mmdeploy_torch2onnx_has_no_nms(synthetic_images, tmp_path):
    from mmengine.registry import DefaultScope
    DefaultScope._instance_dict.pop('BaseTask', None)  # see test_mmdeploy
    import yolox_mm.deploy  # noqa: F401
    from mmdeploy.apis import torch2onnx
    model = make_e2e_detector(synthetic_images)
    ckpt = tmp_path / 'e2e.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': model.dataset_meta}}, ckpt)
    deploy_cfg = Config.fromfile(
        str(REPO / 'configs' / 'deploy' /
            'detection_onnxruntime_static.py'))
    image = synthetic_image(2)
    torch2onnx(image, str(tmp_path), 'end2end.onnx', deploy_cfg,
               copy.deepcopy(model.cfg), str(ckpt), device='cpu')
    path = tmp_path / 'end2end.onnx'
    assert 'NonMaxSuppression' not in _ops(path)
    inputs, samples = preprocess(model, [image])
    dets, labels = run_onnx(path, inputs)
    expected, = torch_detections(model, inputs, samples)
    assert len(expected) > 0
    assert_same_topk(dets[0], labels[0], expected)
