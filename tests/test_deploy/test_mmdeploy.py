"""mmdeploy 1.3.1 conversion of yolox_mm detectors (``yolox_mm.deploy``
rewriters, ``configs/deploy/``): ``mmdeploy.apis.torch2onnx`` with the
onnxruntime configs, then onnxruntime against ``model.predict``.

Skipped when mmdeploy is not installed (it is optional:
``pip install --no-deps mmdeploy==1.3.1 aenum``).
"""
import copy
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from .detectors import (REPO, TEST_CFG, TREE_CFG, TREE_IMAGES,
                        TREE_VAL_TILES, assert_same_detections,
                        load_cfg, make_detector, preprocess, synthetic_image,
                        torch_detections, tree_tiles)

try:
    import mmdeploy  # noqa: F401
    from mmdeploy.apis import torch2onnx
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError(
        f'mmdeploy is not importable ({err}); `make setup` installs it '
        '(`pip install --no-deps mmdeploy==1.3.1 aenum==3.1.17`)') from err
import onnxruntime as ort  # noqa: E402
import onnx  # noqa: E402

import yolox_mm.deploy  # noqa: E402,F401
from yolox_mm.deploy.mmdeploy_rewriters import (FOCUS_FORWARD,  # noqa: E402
                                                HEAD_PREDICT, ONNX_EXPORT,
                                                focus__forward)

DEPLOY_CFGS = REPO / 'configs' / 'deploy'
DYNAMIC = 'detection_onnxruntime_dynamic.py'


def deploy_config(name: str) -> Config:
    """A deploy config whose post-processing equals :data:`TEST_CFG`."""
    cfg = Config.fromfile(str(DEPLOY_CFGS / name))
    cfg.codebase_config.post_processing.update(
        score_threshold=TEST_CFG['score_thr'],
        iou_threshold=TEST_CFG['nms']['iou_threshold'],
        keep_top_k=TEST_CFG['max_per_img'],
        max_output_boxes_per_class=TEST_CFG['max_per_img'],
        pre_top_k=-1)
    return cfg


@pytest.fixture(autouse=True)
def _new_mmdeploy_task_scope():
    """mmdeploy 1.3.1 creates the default scope ``BaseTask`` (scope of the
    model config) at its first conversion in a process and only reuses it
    later, after its mmdet set-up has made a newer ``mmdet`` scope current:
    a second ``torch2onnx`` in the same process would build the model with
    mmdet's classes. ``tools/deploy.py`` converts once per process; the
    tests convert several times."""
    from mmengine.registry import DefaultScope
    DefaultScope._instance_dict.pop('BaseTask', None)


@pytest.fixture(scope='module')
def tree_checkpoint(synthetic_images, tmp_path_factory):
    """(model, model config, checkpoint path) of a crafted tree model.

    Pass ``torch2onnx`` a deep copy of the config: mmdeploy edits the
    test pipeline of the config it is given in place."""
    cfg = load_cfg(TREE_CFG)
    model = make_detector(cfg, synthetic_images, ('tree', ))
    path = tmp_path_factory.mktemp('ckpt') / 'tree.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': model.dataset_meta}}, path)
    return model, cfg, str(path)


def mmdeploy_outputs(onnx_file, inputs):
    """``[(dets [K, 5], labels [K])]`` per image, without the padding rows
    (score 0) that mmdeploy appends."""
    session = ort.InferenceSession(str(onnx_file),
                                   providers=['CPUExecutionProvider'])
    dets, labels = session.run(None, {'input': inputs.numpy()})
    keep = dets[..., 4] > 0
    return [(d[k], l[k]) for d, l, k in zip(dets, labels, keep)]


def test_rewriters_registered_and_torchscript_exporter_inside_mmdeploy_only(
        tmp_path):
    """``torch.onnx.export`` is ours (``dynamo=False`` by default) inside
    mmdeploy's ``RewriterContext`` only: outside it is torch's own."""
    from mmdeploy.core import FUNCTION_REWRITER, RewriterContext
    records = FUNCTION_REWRITER._registry._rewrite_records
    assert {HEAD_PREDICT, FOCUS_FORWARD, ONNX_EXPORT} <= set(records)
    original = torch.onnx.export
    assert not hasattr(original, '_yolox_mm_dynamo_default_false')
    with RewriterContext(cfg={}, backend='onnxruntime'):
        assert torch.onnx.export is not original
        # no ``dynamo`` argument, as mmdeploy calls it: TorchScript exporter
        torch.onnx.export(torch.nn.Linear(2, 3), (torch.ones(1, 2), ),
                          str(tmp_path / 'linear.onnx'))
    assert torch.onnx.export is original
    graph = onnx.load(str(tmp_path / 'linear.onnx')).graph
    assert [n.op_type for n in graph.node] == ['Gemm']


def test_deploy_config_module_registers_the_rewriters():
    """``import yolox_mm.deploy`` registers nothing, even when it comes
    before ``import mmdeploy``; mmdeploy's loading of the deploy config's
    ``codebase_config.module`` does (as in ``torch2onnx``)."""
    code = (
        'import sys, torch, yolox_mm.deploy, yolox_mm.deploy.onnx_export\n'
        'export = torch.onnx.export\n'
        'from mmdeploy.core import FUNCTION_REWRITER\n'
        'records = FUNCTION_REWRITER._registry._rewrite_records\n'
        f'assert {HEAD_PREDICT!r} not in records\n'
        'from mmengine.config import Config\n'
        'from mmdeploy.codebase import import_codebase\n'
        'from mmdeploy.utils import Codebase\n'
        'from mmdeploy.utils.config_utils import (\n'
        '    get_codebase_external_module)\n'
        f'cfg = Config.fromfile({str(DEPLOY_CFGS / DYNAMIC)!r})\n'
        'import_codebase(Codebase.MMDET, get_codebase_external_module(cfg))\n'
        f'assert {HEAD_PREDICT!r} in records\n'
        f'assert {ONNX_EXPORT!r} in records\n'
        'assert torch.onnx.export is export\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_focus_rewrite_is_the_same_function(tree_checkpoint):
    focus = tree_checkpoint[0].backbone.stem
    x = torch.rand(2, 3, 64, 96) * 255
    with torch.no_grad():
        torch.testing.assert_close(focus__forward(focus, x), focus(x),
                                   rtol=0, atol=0)


def test_torch2onnx_static(tree_checkpoint, tmp_path):
    """Static onnxruntime config: standard ONNX ops, outputs dets/labels
    (mmdeploy's detector rewriter reaches our YOLOX), same detections as
    PyTorch on a synthetic image and, when prepared, a tree tile."""
    model, model_cfg, ckpt = tree_checkpoint
    images = [synthetic_image(1)]
    torch2onnx(images[0], str(tmp_path), 'end2end.onnx',
               deploy_config('detection_onnxruntime_static.py'),
               copy.deepcopy(model_cfg), ckpt, device='cpu')
    onnx_file = tmp_path / 'end2end.onnx'
    graph = onnx.load(str(onnx_file))
    assert [o.name for o in graph.graph.output] == ['dets', 'labels']
    assert 'NonMaxSuppression' in {n.op_type for n in graph.graph.node}
    assert all(n.domain in ('', 'ai.onnx') for n in graph.graph.node)
    try:
        images += tree_tiles()[:1]
    except pytest.skip.Exception:
        pass
    for image in images:
        inputs, data_samples = preprocess(model, [image])
        (dets, labels), = mmdeploy_outputs(onnx_file, inputs)
        expected, = torch_detections(model, inputs, data_samples)
        assert len(expected) > 0
        assert_same_detections(dets, labels, expected)


def test_torch2onnx_dynamic_batch_of_two(tree_checkpoint, tmp_path):
    model, model_cfg, ckpt = tree_checkpoint
    images = [synthetic_image(1), synthetic_image(2)]
    torch2onnx(images[0], str(tmp_path), 'end2end.onnx',
               deploy_config('detection_onnxruntime_dynamic.py'),
               copy.deepcopy(model_cfg), ckpt, device='cpu')
    inputs, data_samples = preprocess(model, images)
    outputs = mmdeploy_outputs(tmp_path / 'end2end.onnx', inputs)
    expected = torch_detections(model, inputs, data_samples)
    assert len(expected[0]) != len(expected[1])
    for (dets, labels), exp in zip(outputs, expected):
        assert_same_detections(dets, labels, exp)


@pytest.mark.slow
def test_torch2onnx_in_spawned_process(tree_checkpoint, tmp_path):
    """As mmdeploy's ``tools/deploy.py`` does: ``torch2onnx`` in a process
    started with ``spawn``, which imports nothing of the parent; the
    deploy config's ``module=['yolox_mm.deploy.mmdeploy_plugin']``
    brings the rewriters, the ``dynamo=False`` default and safe checkpoint
    loading there. The checkpoint is a Runner checkpoint (a ``MessageHub``
    with a ``HistoryBuffer``), which mmengine's ``load_checkpoint`` refuses
    under torch's ``weights_only`` default without our allow-list."""
    _, model_cfg, plain_ckpt = tree_checkpoint
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('spawned_test_hub')
    hub.update_scalar('train/loss', 1.0)
    ckpt = str(tmp_path / 'runner.pth')
    torch.save(dict(torch.load(plain_ckpt, weights_only=True),
                    message_hub=hub.state_dict()), ckpt)
    cfg_file = tmp_path / 'model_cfg.py'
    model_cfg.dump(str(cfg_file))
    deploy_file = tmp_path / 'deploy_cfg.py'
    deploy_config('detection_onnxruntime_static.py').dump(str(deploy_file))
    image = tmp_path / 'img.png'
    import cv2
    cv2.imwrite(str(image), synthetic_image(1))
    code = (
        'import sys\n'
        'from mmdeploy.apis import torch2onnx\n'
        'from mmdeploy.apis.core import PIPELINE_MANAGER\n'
        'from mmdeploy.utils import get_root_logger\n'
        'import torch.multiprocessing as mp\n'
        'if __name__ == "__main__":\n'
        '    mp.set_start_method("spawn", force=True)\n'
        '    PIPELINE_MANAGER.enable_multiprocess(True, [torch2onnx])\n'
        '    torch2onnx(*sys.argv[1:], device="cpu")\n'
        '    assert "yolox_mm.deploy" not in sys.modules\n')
    script = tmp_path / 'convert.py'
    script.write_text(code)
    out = subprocess.run(
        [sys.executable, str(script), str(image), str(tmp_path),
         'end2end.onnx', str(deploy_file), str(cfg_file), ckpt],
        cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / 'end2end.onnx').is_file(), out.stderr[-3000:]


@pytest.mark.slow
def test_mmdeploy_convert_tool(tree_checkpoint, tmp_path):
    """``tools/deployment/mmdeploy_convert.py``: one command from a
    checkpoint to ``end2end.onnx``, checked in onnxruntime against PyTorch
    on a tree tile (exit status 0 only if the detections agree)."""
    _, model_cfg, ckpt = tree_checkpoint
    cfg_file = tmp_path / 'model_cfg.py'
    model_cfg.dump(str(cfg_file))
    deploy_file = tmp_path / 'deploy_cfg.py'
    deploy_config('detection_onnxruntime_static.py').dump(str(deploy_file))
    image = TREE_IMAGES / TREE_VAL_TILES[0]
    if not image.is_file():
        pytest.fail(f'{image} missing; run `make data`')
    out = subprocess.run(
        [sys.executable, 'tools/deployment/mmdeploy_convert.py',
         str(deploy_file), str(cfg_file), ckpt, str(image),
         '--work-dir', str(tmp_path / 'out')],
        cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert (tmp_path / 'out' / 'end2end.onnx').is_file()
    check = [line for line in out.stdout.splitlines()
             if line.startswith('check on')]
    assert len(check) == 1, out.stdout
    counts = re.findall(r'onnxruntime (\d+) detections, PyTorch (\d+)',
                        check[0])
    onnx_count, torch_count = (int(n) for n in counts[0])
    assert onnx_count == torch_count > 0, check[0]
    assert 'labels equal' in out.stdout


@pytest.mark.parametrize('name,shape', [
    ('detection_tensorrt_static-640x640.py', (640, 640)),
    ('detection_tensorrt_dynamic-320x320-1344x1344.py', (416, 416)),
])
def test_tensorrt_configs_export_onnx_stage(synthetic_images, tmp_path, name,
                                            shape):
    """The ONNX stage of the TensorRT configs runs on CPU (building and
    running the engine needs a GPU, TensorRT 8 and mmdeploy's TensorRT ops):
    NMS becomes ``mmdeploy::TRTBatchedNMS``."""
    from mmdeploy.apis.onnx import export
    from mmdeploy.codebase import import_codebase
    from mmdeploy.utils import Codebase
    from mmdet.structures import DetDataSample
    import_codebase(Codebase.MMDET)  # mmdeploy's detector rewriter
    cfg = Config.fromfile(str(DEPLOY_CFGS / name))
    # a fresh model: mmdeploy's export leaves its patched forward behind
    model = make_detector(load_cfg(TREE_CFG), synthetic_images, ('tree', ))
    sample = DetDataSample(metainfo=dict(img_shape=shape,
                                         batch_input_shape=shape,
                                         scale_factor=(1.0, 1.0)))
    export(model, torch.rand(1, 3, *shape) * 255, str(tmp_path / 'trt'),
           backend='tensorrt',
           input_metas={'data_samples': [sample], 'mode': 'predict'},
           context_info={'deploy_cfg': cfg}, input_names=['input'],
           output_names=['dets', 'labels'], opset_version=11,
           dynamic_axes=cfg.onnx_config.get('dynamic_axes'))
    graph = onnx.load(str(tmp_path / 'trt.onnx'))
    custom = {(n.domain, n.op_type) for n in graph.graph.node if n.domain}
    assert custom == {('mmdeploy', 'TRTBatchedNMS')}
    assert [o.name for o in graph.graph.output] == ['dets', 'labels']
