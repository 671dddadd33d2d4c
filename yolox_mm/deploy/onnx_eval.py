"""Evaluate and time exported YOLOX ONNX files with onnxruntime.

:func:`evaluate_onnx` runs an ONNX file of ``tools/deployment/export_onnx.py``
(fp32, or INT8 from :mod:`yolox_mm.deploy.onnx_quantize`) over a config's
test split and scores it with the config's own ``test_evaluator`` (mmdet's
``CocoMetric`` for our configs), exactly as ``tools/test.py`` does for the
PyTorch model: the same dataset, test pipeline and metric; only the model
call is onnxruntime. Boxes come out of the graph in network-input pixels and
are divided by the sample's ``scale_factor`` (the head's ``rescale=True``).

:func:`calibration_batches` yields training images through the test
pipeline, for INT8 calibration. :func:`time_sessions` measures latencies of
several files side by side.
"""
import copy
import time
from typing import Dict, Iterator, List, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from yolox_mm.utils import register_all_modules


def make_session(onnx_file: str, threads: int = 1):
    """An onnxruntime CPU session with ``threads`` intra-op threads (and one
    inter-op thread), all graph optimisations on."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    return ort.InferenceSession(onnx_file, options,
                                providers=['CPUExecutionProvider'])


def build_loader(cfg: Config, dataloader_cfg: dict):
    """``dataloader_cfg`` built in this process (``num_workers=0``), the
    yolox_mm and mmdet modules registered; ``cfg`` is the whole config."""
    from mmengine.runner import Runner
    register_all_modules()
    loader_cfg = copy.deepcopy(dataloader_cfg)
    loader_cfg['num_workers'] = 0
    loader_cfg['persistent_workers'] = False
    return Runner.build_dataloader(loader_cfg, seed=0)


def batch_array(inputs: Sequence[torch.Tensor]) -> np.ndarray:
    """``[B, 3, H, W]`` float32 BGR 0-255 from a test batch's ``inputs``
    (uint8 ``[3, H, W]`` tensors of one size: the test pipeline pads to
    ``img_scale``).

    Raises:
        ValueError: if the images of the batch differ in size.
    """
    sizes = {tuple(t.shape) for t in inputs}
    if len(sizes) != 1:
        raise ValueError(f'the test pipeline must pad every image to one size '
                         f'(Pad(pad_to_square=True) or size=...); got {sizes}')
    return torch.stack(list(inputs)).float().numpy()


def detections_to_instances(dets: np.ndarray, labels: np.ndarray,
                            scale_factor: Sequence[float]) -> InstanceData:
    """One image's graph outputs as ``pred_instances`` in original pixels.

    Args:
        dets (np.ndarray): ``[K, 5]`` x1, y1, x2, y2 (input pixels), score.
        labels (np.ndarray): ``[K]``; padding rows have label -1.
        scale_factor (Sequence[float]): ``(w_scale, h_scale)`` of the test
            pipeline's resize.

    Returns:
        InstanceData: ``bboxes [N, 4]`` xyxy in original-image pixels,
        ``scores [N]``, ``labels [N]`` for the rows with a label >= 0.
    """
    keep = labels >= 0
    scale = np.tile(np.asarray(scale_factor, dtype=np.float32), 2)
    return InstanceData(
        bboxes=torch.from_numpy(dets[keep, :4] / scale),
        scores=torch.from_numpy(dets[keep, 4].copy()),
        labels=torch.from_numpy(labels[keep].astype(np.int64)))


def evaluate_onnx(cfg: Config, onnx_file: str, threads: int = 1) -> Dict:
    """Metrics of ``onnx_file`` on ``cfg.test_dataloader`` with
    ``cfg.test_evaluator`` (e.g. ``coco/bbox_mAP``, ``coco/bbox_mAP_50``).

    Args:
        cfg (Config): the model's config (test split, pipeline, evaluator).
        onnx_file (str): graph of ``export_onnx.py`` with a batch dimension
            that accepts the test dataloader's batches (static batch 1: use a
            test batch size of 1; ``--dynamic`` exports take any).
        threads (int): onnxruntime intra-op threads.
    """
    from mmengine.evaluator import Evaluator
    loader = build_loader(cfg, cfg.test_dataloader)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = loader.dataset.metainfo
    session = make_session(onnx_file, threads)
    name = session.get_inputs()[0].name
    for batch in loader:
        dets, labels = session.run(None, {name: batch_array(batch['inputs'])})
        samples = batch['data_samples']
        for i, sample in enumerate(samples):
            sample.pred_instances = detections_to_instances(
                dets[i], labels[i], sample.metainfo['scale_factor'])
        evaluator.process(data_samples=samples, data_batch=batch)
    return evaluator.evaluate(len(loader.dataset))


def calibration_batches(cfg: Config, num_images: int,
                        batch_size: int = 1) -> Iterator[np.ndarray]:
    """Training images through the test pipeline, as graph inputs.

    The images are those of the innermost training dataset (``ann_file`` and
    ``data_prefix`` of ``cfg.train_dataloader``, unwrapped from mix/repeat
    wrappers), in file order, preprocessed by ``cfg.test_pipeline``
    (letterbox, no augmentation).

    Args:
        cfg (Config): the model's config.
        num_images (int): how many images (fewer if the split is smaller).
        batch_size (int): images per yielded array (the graph's batch).

    Yields:
        np.ndarray: ``[batch_size, 3, H, W]`` float32 BGR 0-255.
    """
    train = cfg.train_dataloader.dataset
    while 'dataset' in train:
        train = train.dataset
    test = copy.deepcopy(cfg.test_dataloader)
    for key in ('ann_file', 'data_prefix', 'data_root'):
        if key in train:
            test.dataset[key] = train[key]
    test.dataset.pop('indices', None)
    test.batch_size = batch_size
    test.sampler = dict(type='DefaultSampler', shuffle=False)
    seen = 0
    for batch in build_loader(cfg, test):
        if seen >= num_images:
            return
        inputs = batch['inputs'][:num_images - seen]
        if len(inputs) < batch_size:  # a static graph takes full batches
            return
        seen += len(inputs)
        yield batch_array(inputs)


def time_sessions(onnx_files: Sequence[str], example: np.ndarray,
                  threads: int = 1, repeats: int = 50,
                  warmup: int = 5) -> List[float]:
    """Median latency (ms) of each file on ``example``, measured side by
    side: the runs of all files are interleaved, so a change in machine load
    affects them alike.

    Args:
        onnx_files (Sequence[str]): ONNX files with the same input.
        example (np.ndarray): one input batch.
        threads (int): onnxruntime intra-op threads.
        repeats (int): timed runs per file.
        warmup (int): untimed runs per file first.

    Returns:
        list[float]: median milliseconds per file, in the given order.
    """
    sessions = [make_session(f, threads) for f in onnx_files]
    feeds = [{s.get_inputs()[0].name: example} for s in sessions]
    for session, feed in zip(sessions, feeds):
        for _ in range(warmup):
            session.run(None, feed)
    times = [[] for _ in sessions]
    for _ in range(repeats):
        for k, (session, feed) in enumerate(zip(sessions, feeds)):
            start = time.perf_counter()
            session.run(None, feed)
            times[k].append((time.perf_counter() - start) * 1e3)
    return [float(np.median(t)) for t in times]
