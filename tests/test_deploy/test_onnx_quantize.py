"""INT8 quantization (``yolox_mm.deploy.onnx_quantize``) and onnxruntime
evaluation (``yolox_mm.deploy.onnx_eval``) of exported graphs.

The evaluation is checked against the PyTorch model on a dataset whose
ground truth is the PyTorch model's own detections: through the config's
evaluator (COCO) the PyTorch model then scores mAP = 1 by construction, and
so must the fp32 graph, whose boxes agree within 1e-3 px; the images are
not square, so the letterbox padding and ``scale_factor`` are exercised.
"""
import json

import cv2
import numpy as np
import onnx
import pytest
import torch
from onnx import helper

from yolox_mm.deploy.onnx_eval import (build_loader, detections_to_instances,
                                       evaluate_onnx)
from yolox_mm.deploy.onnx_export import export_onnx
from yolox_mm.deploy.onnx_quantize import (downstream, fp32_nodes,
                                           quantize_int8)

from .detectors import TREE_CFG, load_cfg, make_detector, synthetic_image


def test_downstream_follows_outputs():
    # x -> A -> a -> B -> b -> C -> c ; x -> D -> d ; (c, d) -> E -> e
    nodes = [helper.make_node('Relu', [i], [o], name=n)
             for n, i, o in (('A', 'x', 'a'), ('B', 'a', 'b'),
                             ('C', 'b', 'c'), ('D', 'x', 'd'))]
    nodes.append(helper.make_node('Add', ['c', 'd'], ['e'], name='E'))
    graph = helper.make_graph(nodes, 'g', [], [])
    assert downstream(graph, {'B'}) == ['B', 'C', 'E']
    assert downstream(graph, {'D'}) == ['D', 'E']
    assert downstream(graph, set()) == []


def test_detections_to_instances_by_hand():
    dets = np.array([[10, 20, 30, 40, 0.9], [0, 0, 0, 0, 0]], np.float32)
    labels = np.array([2, -1])
    inst = detections_to_instances(dets, labels, (2.0, 4.0))
    assert inst.bboxes.tolist() == [[5.0, 5.0, 15.0, 10.0]]
    assert inst.scores.tolist() == pytest.approx([0.9])
    assert inst.labels.tolist() == [2]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Crafted tree model, its fp32 and INT8 graphs, and a 2-image dataset
    (300x400 and 400x300) whose ground truth is the model's detections."""
    root = tmp_path_factory.mktemp('selfgt')
    (root / 'images').mkdir()
    shapes = ((300, 400), (400, 300))
    images = [synthetic_image(seed, h, w)
              for seed, (h, w) in zip((1, 2), shapes)]
    coco = dict(images=[], annotations=[],
                categories=[dict(id=1, name='tree')])
    for i, img in enumerate(images):
        cv2.imwrite(str(root / 'images' / f'{i}.png'), img)
        coco['images'].append(dict(id=i + 1, file_name=f'{i}.png',
                                   height=img.shape[0], width=img.shape[1]))
    ann_file = root / 'ann.json'
    ann_file.write_text(json.dumps(coco))

    cfg = load_cfg(TREE_CFG)
    cfg.test_dataloader.batch_size = 1
    cfg.test_dataloader.dataset.update(data_root=str(root),
                                       ann_file='ann.json',
                                       data_prefix=dict(img='images/'))
    cfg.test_evaluator = dict(type='CocoMetric', metric='bbox',
                              ann_file=str(ann_file))
    cfg.train_dataloader.dataset.dataset.update(
        data_root=str(root), ann_file='ann.json',
        data_prefix=dict(img='images/'))
    model = make_detector(cfg, [synthetic_image(s) for s in (1, 2)],
                          ('tree', ))

    predictions = []
    for batch in build_loader(cfg, cfg.test_dataloader):
        with torch.no_grad():
            predictions += model.test_step(batch)
    for sample in predictions:
        for box in sample.pred_instances.bboxes.tolist():
            x1, y1, x2, y2 = box
            coco['annotations'].append(dict(
                id=len(coco['annotations']) + 1, image_id=sample.img_id,
                category_id=1, bbox=[x1, y1, x2 - x1, y2 - y1],
                area=(x2 - x1) * (y2 - y1), iscrowd=0))
    ann_file.write_text(json.dumps(coco))

    fp32 = str(root / 'fp32.onnx')
    export_onnx(model, fp32, (416, 416))
    int8 = str(root / 'int8.onnx')
    calibration = (np.stack([synthetic_image(s).transpose(2, 0, 1)]).astype(
        np.float32) for s in (3, 4, 5))
    info = quantize_int8(fp32, int8, calibration)
    return dict(cfg=cfg, model=model, fp32=fp32, int8=int8, info=info,
                num_gt=len(coco['annotations']), predictions=predictions)


def pytorch_metrics(setup):
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(setup['cfg'].test_evaluator)
    evaluator.dataset_meta = dict(classes=('tree', ))
    evaluator.process(data_samples=setup['predictions'])
    return evaluator.evaluate(2)


def test_pytorch_scores_one_on_its_own_detections(setup):
    assert setup['num_gt'] > 100
    metrics = pytorch_metrics(setup)
    # mmdet's mAP_50 / mAP_75 use up to 1000 detections an image: every
    # ground-truth box is found at IoU 1, before any false positive
    assert metrics['coco/bbox_mAP_50'] == pytest.approx(1.0)
    assert metrics['coco/bbox_mAP_75'] == pytest.approx(1.0)


def test_fp32_graph_scores_as_pytorch(setup):
    metrics = evaluate_onnx(setup['cfg'], setup['fp32'])
    expected = pytorch_metrics(setup)
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-3), key


def test_fp32_nodes_are_the_prediction_convs_and_what_follows(setup):
    graph = onnx.load(setup['fp32']).graph
    kept = fp32_nodes(setup['fp32'])
    by_name = {n.name: n for n in graph.node}
    kept_convs = [n for n in kept if by_name[n].op_type == 'Conv']
    assert len(kept_convs) == 9  # cls, reg, obj at 3 levels
    assert all('multi_level_conv_' in n for n in kept_convs)
    assert any(by_name[n].op_type == 'NonMaxSuppression' for n in kept)
    # the graph's outputs are produced by kept nodes only
    outputs = {o.name for o in graph.output}
    producers = [n.name for n in graph.node if outputs & set(n.output)]
    assert producers and set(producers) <= set(kept)


def test_int8_graph_keeps_interface_and_fp32_tail(setup):
    fp32, int8 = onnx.load(setup['fp32']), onnx.load(setup['int8'])
    ops = [n.op_type for n in int8.graph.node]
    assert ops.count('QuantizeLinear') > 50
    assert [i.name for i in int8.graph.input] == ['input']
    assert [o.name for o in int8.graph.output] == ['dets', 'labels']
    meta = {p.key: p.value for p in int8.metadata_props}
    assert meta.items() >= {p.key: p.value
                            for p in fp32.metadata_props}.items()
    assert setup['info']['calibration_batches'] == 3
    # the prediction convs keep fp32 weights (initializers, not the
    # output of a DequantizeLinear); the other convs read int8 weights
    initializers = {t.name: t for t in int8.graph.initializer}
    convs = [n for n in int8.graph.node if n.op_type == 'Conv']
    pred = [n for n in convs if 'multi_level_conv_' in n.name]
    assert len(pred) == 9
    for node in convs:
        weight = initializers.get(node.input[1])
        if node in pred:
            assert weight is not None and weight.data_type == 1, node.name
        else:
            assert weight is None, node.name
    metrics = evaluate_onnx(setup['cfg'], setup['int8'])
    assert 0.0 <= metrics['coco/bbox_mAP_50'] <= 1.0


def test_fp32_nodes_rejects_a_foreign_graph(tmp_path):
    graph = helper.make_graph(
        [helper.make_node('Relu', ['x'], ['y'], name='r')], 'g',
        [helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, [1])])
    path = tmp_path / 'foreign.onnx'
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match='no Conv node'):
        fp32_nodes(str(path))
