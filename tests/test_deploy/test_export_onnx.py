"""Plain ONNX export (``yolox_mm.deploy.onnx_export``,
``tools/deployment/export_onnx.py``) against PyTorch: onnxruntime on the
exported graph gives the detections of ``model.predict(rescale=False)`` on
the same preprocessed tensor (same count, boxes within 1e-3 px, same
labels), static and dynamic, one and two images; ``demo/onnx_demo.py``
letterboxes as the test pipeline does and needs no torch."""
import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from .detectors import (NANO_CFG, REPO, TREE_CFG, assert_same_detections,
                       load_cfg, make_detector, preprocess, synthetic_image,
                       torch_detections, tree_tiles)

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

from yolox_mm.deploy.onnx_export import export_onnx  # noqa: E402


def run_onnx(path, inputs: torch.Tensor):
    session = ort.InferenceSession(str(path),
                                   providers=['CPUExecutionProvider'])
    return session.run(None, {'input': inputs.numpy()})


def check_against_torch(model, onnx_file, images):
    inputs, data_samples = preprocess(model, images)
    dets, labels = run_onnx(onnx_file, inputs)
    expected = torch_detections(model, inputs, data_samples)
    assert dets.shape == (len(images), model.bbox_head.test_cfg.max_per_img,
                          5)
    assert labels.shape == dets.shape[:2] and labels.dtype == np.int64
    for i, exp in enumerate(expected):
        assert len(exp) > 0
        assert_same_detections(dets[i], labels[i], exp)
    return [len(e) for e in expected]


@pytest.fixture(scope='module')
def tree_model(synthetic_images):
    """YOLOX-Nano of the tree config (1 class), crafted weights."""
    return make_detector(load_cfg(TREE_CFG), synthetic_images, ('tree', ))


@pytest.fixture(scope='module')
def tree_static_onnx(tree_model, tmp_path_factory):
    """Static graph: batch 1, 416 x 416."""
    path = tmp_path_factory.mktemp('onnx') / 'tree_static.onnx'
    return export_onnx(tree_model, str(path), (416, 416))


@pytest.fixture(scope='module')
def coco3_model(synthetic_images):
    """YOLOX-Nano with 3 classes (class-aware NMS), crafted weights."""
    return make_detector(load_cfg(NANO_CFG, num_classes=3), synthetic_images,
                         ('a', 'b', 'c'))


@pytest.fixture(scope='module')
def coco3_dynamic_onnx(coco3_model, tmp_path_factory):
    """Dynamic batch, height and width."""
    path = tmp_path_factory.mktemp('onnx') / 'coco3_dynamic.onnx'
    return export_onnx(coco3_model, str(path), (416, 416), dynamic=True)


def test_static_graph_uses_standard_ops(tree_static_onnx):
    model = onnx.load(tree_static_onnx)
    ops = {node.op_type for node in model.graph.node}
    assert 'NonMaxSuppression' in ops
    assert all(node.domain in ('', 'ai.onnx') for node in model.graph.node)
    assert model.opset_import[0].version >= 11
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta['classes']) == ['tree']
    assert float(meta['score_thr']) == pytest.approx(0.3)
    dims = [[d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim]
            for o in model.graph.output]
    assert dims == [[1, 300, 5], [1, 300]]


def test_static_synthetic_image(tree_model, tree_static_onnx):
    """Never skips: a synthetic image with detections below the cap."""
    counts = check_against_torch(tree_model, tree_static_onnx,
                                 [synthetic_image(1)])
    assert 0 < counts[0] < 300


def test_static_tree_tile(tree_model, tree_static_onnx):
    """A real validation tile (~180 detections)."""
    check_against_torch(tree_model, tree_static_onnx, tree_tiles()[:1])


def test_wrapper_eager_matches_predict(coco3_model):
    """The export module itself, run by PyTorch (``--verify`` compares it
    with onnxruntime): same detections as ``predict``."""
    from yolox_mm.deploy.onnx_export import YOLOXONNXWrapper
    inputs, data_samples = preprocess(
        coco3_model, [synthetic_image(1), synthetic_image(2)])
    with torch.no_grad():
        dets, labels = YOLOXONNXWrapper(coco3_model)(inputs)
    expected = torch_detections(coco3_model, inputs, data_samples)
    for i, exp in enumerate(expected):
        assert_same_detections(dets[i].numpy(), labels[i].numpy(), exp)


def test_static_batch_is_fixed(tree_static_onnx, tree_model):
    inputs, _ = preprocess(tree_model, [synthetic_image(1)] * 2)
    with pytest.raises(Exception, match='(?i)dimension|shape'):
        run_onnx(tree_static_onnx, inputs)


def test_dynamic_batch_of_two_images(coco3_model, coco3_dynamic_onnx):
    counts = check_against_torch(coco3_model, coco3_dynamic_onnx,
                                 [synthetic_image(1), synthetic_image(2)])
    assert counts[0] != counts[1]


def test_dynamic_batch_of_two_tree_tiles(coco3_model, coco3_dynamic_onnx):
    check_against_torch(coco3_model, coco3_dynamic_onnx, tree_tiles())


def test_dynamic_size(coco3_model, coco3_dynamic_onnx):
    """Another input size (320 x 480, not the traced one) in the dynamic
    graph."""
    from mmdet.structures import DetDataSample
    image = synthetic_image(3, 320, 480)
    inputs = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    sample = DetDataSample(metainfo=dict(img_shape=(320, 480),
                                         batch_input_shape=(320, 480),
                                         scale_factor=(1.0, 1.0)))
    dets, labels = run_onnx(coco3_dynamic_onnx, inputs)
    expected = torch_detections(coco3_model, inputs, [sample])
    assert len(expected[0]) > 0
    assert_same_detections(dets[0], labels[0], expected[0])


def test_max_det_and_thresholds(tree_model, tmp_path):
    """``max_det`` smaller than the detections: the best ones, like
    ``max_per_img``; explicit thresholds override ``test_cfg``."""
    path = export_onnx(tree_model, str(tmp_path / 'top5.onnx'), (416, 416),
                       score_thr=0.3, iou_thr=0.5, max_det=5)
    inputs, data_samples = preprocess(tree_model, [synthetic_image(2)])
    dets, labels = run_onnx(path, inputs)
    head = tree_model.bbox_head
    saved = head.test_cfg
    head.test_cfg = copy.deepcopy(saved)  # update() merges nested dicts
    head.test_cfg.update(score_thr=0.3, max_per_img=5,
                         nms=dict(type='nms', iou_threshold=0.5))
    try:
        expected = torch_detections(tree_model, inputs, data_samples)
    finally:
        head.test_cfg = saved
    assert dets.shape == (1, 5, 5) and len(expected[0]) == 5
    assert_same_detections(dets[0], labels[0], expected[0])


def test_import_boundaries():
    """``import yolox_mm`` leaves ``yolox_mm.deploy`` alone, and the plain
    export path never imports mmdeploy."""
    code = ('import sys, yolox_mm\n'
            'assert "yolox_mm.deploy" not in sys.modules\n'
            'import yolox_mm.deploy.onnx_export\n'
            'assert "mmdeploy" not in sys.modules\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_import_changes_nothing_outside_the_package():
    """Importing ``yolox_mm.deploy`` (and its plain exporter) without
    mmdeploy leaves the import machinery and ``torch.onnx.export`` alone
    (measured after ``import yolox_mm``, whose dependencies, e.g. ``six``,
    add their own finders)."""
    code = ('import sys, torch, yolox_mm\n'
            'meta_path, export = list(sys.meta_path), torch.onnx.export\n'
            'import yolox_mm.deploy, yolox_mm.deploy.onnx_export\n'
            'assert "mmdeploy" not in sys.modules\n'
            'assert sys.meta_path == meta_path, sys.meta_path\n'
            'assert torch.onnx.export is export\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_rejects_size_not_multiple_of_32(tree_model, tmp_path):
    with pytest.raises(ValueError, match='multiples of 32'):
        export_onnx(tree_model, str(tmp_path / 'x.onnx'), (400, 416))


def _load_onnx_demo():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'onnx_demo', REPO / 'demo' / 'onnx_demo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('shape', [(416, 416), (235, 400), (500, 300)])
def test_onnx_demo_letterbox_matches_test_pipeline(tree_model, shape):
    demo = _load_onnx_demo()
    image = synthetic_image(4, *shape)
    inputs, data_samples = preprocess(tree_model, [image])
    blob, scale_factor = demo.letterbox(image, (416, 416))
    assert blob.shape == (3, 416, 416) and blob.dtype == np.float32
    np.testing.assert_array_equal(blob, inputs[0].numpy())
    np.testing.assert_allclose(scale_factor, data_samples[0].scale_factor,
                               rtol=1e-6)


@pytest.mark.slow
def test_cli_static_batch_2_and_onnx_demo(tree_model, tmp_path):
    """``tools/deployment/export_onnx.py`` on a saved checkpoint (static
    batch 2, explicit thresholds), then ``demo/onnx_demo.py`` in a process
    where importing torch is impossible."""
    ckpt = tmp_path / 'tree.pth'
    torch.save({'state_dict': tree_model.state_dict(),
                'meta': {'dataset_meta': tree_model.dataset_meta}}, ckpt)
    onnx_file = tmp_path / 'tree_b2.onnx'
    cmd = [sys.executable, 'tools/deployment/export_onnx.py', str(TREE_CFG),
           str(ckpt), '--out', str(onnx_file), '--input-shape', '416', '416',
           '--batch', '2', '--score-thr', '0.3', '--iou-thr', '0.65',
           '--max-det', '300']
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'dets [2, 300, 5]' in out.stdout
    images = [synthetic_image(1), synthetic_image(2)]
    check_against_torch(tree_model, onnx_file, images)

    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    import cv2
    for i, image in enumerate(images + [synthetic_image(5, 235, 400)]):
        cv2.imwrite(str(img_dir / f'img{i}.png'), image)
    no_torch = ('import sys, runpy; sys.modules["torch"] = None; '
                'sys.modules["mmdet"] = None; sys.argv = sys.argv[1:]; '
                'runpy.run_path(sys.argv[0], run_name="__main__")')
    out = subprocess.run(
        [sys.executable, '-c', no_torch, 'demo/onnx_demo.py', str(img_dir),
         str(onnx_file), '--out-dir', str(tmp_path / 'out'),
         '--score-thr', '0.3'],
        cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    vis = sorted(p.name for p in (tmp_path / 'out' / 'vis').iterdir())
    assert vis == ['img0.png', 'img1.png', 'img2.png']
    assert 'img0.png: ' in out.stdout
