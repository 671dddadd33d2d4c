"""INT8 post-training quantization of an exported YOLOX ONNX file.

Static quantization with onnxruntime's tools (``onnxruntime.quantization``):
activations are calibrated on images of the training split, preprocessed by
the config's test pipeline (the exact input the deployed graph sees), and
the model is written in QDQ format (``QuantizeLinear``/``DequantizeLinear``
pairs that onnxruntime fuses into integer kernels; per-channel int8
weights, int8 activations).

What stays in fp32 (:func:`fp32_nodes`): the head's prediction convolutions
(``multi_level_conv_{cls,reg,obj}``), whose outputs are logits and box
offsets in strides, where both the full range and fine steps matter (they
are a small part of the compute), and everything downstream of them
(sigmoids, decoding, ``NonMaxSuppression``). Everything before them is
quantized: convolutions, and the ``Sigmoid``/``Mul`` of SiLU, ``Add``,
``Concat``, ``MaxPool`` and ``Resize`` between them, so activations stay
in int8 from one convolution to the next.

Activations are uint8 and weights int8 (onnxruntime's U8S8): on this
project's CPUs (x86-64 with AVX-512 VNNI) S8S8 ran about 2x slower than
U8S8 for YOLOX-nano (docs/deploy.md).

Input contract: the ONNX file of ``tools/deployment/export_onnx.py``
(``yolox_mm.deploy.onnx_export``): ``input`` float32 ``[B, 3, H, W]`` BGR
0-255 letterboxed; outputs ``dets`` ``[B, K, 5]`` and ``labels`` ``[B, K]``.
The quantized file has the same inputs and outputs.
"""
import os.path as osp
import re
import tempfile
from typing import Iterator, List, Optional, Sequence

import numpy as np

#: Node-name patterns kept in fp32 (the head's prediction convolutions).
DEFAULT_FP32_PATTERNS = (r'multi_level_conv_(cls|reg|obj)', )


def fp32_nodes(model_file: str,
               patterns: Sequence[str] = DEFAULT_FP32_PATTERNS) -> List[str]:
    """Names of the nodes of ``model_file`` to keep in fp32: the ``Conv``
    nodes whose names match ``patterns`` and every node downstream of them
    (sigmoids, decoding, NMS).

    Args:
        model_file (str): ONNX file.
        patterns (Sequence[str]): regular expressions searched in ``Conv``
            node names (TorchScript export names nodes after module paths,
            e.g. ``/bbox_head/multi_level_conv_cls.0/Conv``).

    Returns:
        list[str]: node names, in graph order.

    Raises:
        ValueError: if no ``Conv`` node matches a pattern (the graph is not a
            YOLOX export of ours, or the names changed).
    """
    import onnx
    graph = onnx.load(model_file, load_external_data=False).graph
    convs = [node.name for node in graph.node if node.op_type == 'Conv']
    seeds = set()
    for pattern in patterns:
        found = {n for n in convs if re.search(pattern, n)}
        if not found:
            raise ValueError(f'no Conv node of {model_file} matches '
                             f'{pattern!r}; Conv nodes are named like '
                             f'{convs[:3]}')
        seeds |= found
    return downstream(graph, seeds)


def downstream(graph, seeds: set) -> List[str]:
    """``seeds`` and every node that reads (transitively) one of their
    outputs, in graph order (ONNX graphs are topologically sorted)."""
    tainted, names = set(), []
    for node in graph.node:
        if node.name in seeds or tainted.intersection(node.input):
            tainted.update(node.output)
            names.append(node.name)
    return names


#: Per-channel ``DequantizeLinear`` (its ``axis``) needs opset 13.
MIN_OPSET = 13


def at_least_opset(model_file: str, tmp_dir: str,
                   opset: int = MIN_OPSET) -> str:
    """``model_file``, or a copy converted to ``opset`` in ``tmp_dir`` if
    its default-domain opset is lower (``export_onnx.py`` defaults to 11)."""
    import onnx
    from onnx import version_converter
    model = onnx.load(model_file)
    current = next(o.version for o in model.opset_import
                   if o.domain in ('', 'ai.onnx'))
    if current >= opset:
        return model_file
    converted = osp.join(tmp_dir, f'opset{opset}.onnx')
    onnx.save(version_converter.convert_version(model, opset), converted)
    return converted


def copy_metadata(src_file: str, dst_file: str) -> None:
    """Copy the ``metadata_props`` of ``src_file`` (classes, thresholds,
    input size that ``export_onnx`` records; ``demo/onnx_demo.py`` reads
    them) into ``dst_file``, which quantization leaves without them."""
    import onnx
    src = onnx.load(src_file, load_external_data=False)
    dst = onnx.load(dst_file)
    known = {p.key for p in dst.metadata_props}
    for prop in src.metadata_props:
        if prop.key not in known:
            dst.metadata_props.add(key=prop.key, value=prop.value)
    onnx.save(dst, dst_file)


class ArrayCalibrationReader:
    """onnxruntime ``CalibrationDataReader`` over float32 input batches.

    Args:
        batches (Sequence[np.ndarray]): ``[B, 3, H, W]`` float32 arrays in
            the graph's input format.
        input_name (str): the graph input's name.
    """

    def __init__(self, batches: Sequence[np.ndarray],
                 input_name: str = 'input') -> None:
        self.batches = list(batches)
        self.input_name = input_name
        self.rewind()

    def get_next(self) -> Optional[dict]:
        if self.position >= len(self.batches):
            return None
        self.position += 1
        return {self.input_name: self.batches[self.position - 1]}

    def rewind(self) -> None:
        self.position = 0


def quantize_int8(fp32_file: str,
                  int8_file: str,
                  calibration: Iterator[np.ndarray],
                  fp32_patterns: Sequence[str] = DEFAULT_FP32_PATTERNS,
                  calibrate_method: str = 'MinMax') -> dict:
    """Write a static INT8 (QDQ) copy of ``fp32_file`` to ``int8_file``.

    Steps: onnxruntime's pre-processing (shape inference and graph
    optimisation, ``quant_pre_process``), then ``quantize_static`` of the
    nodes before the head's prediction convolutions (per-channel int8
    weights, uint8 activations), calibrated on ``calibration``; the rest
    stays fp32 (:func:`fp32_nodes`).

    Args:
        fp32_file (str): ONNX file of ``export_onnx.py``, static input shape.
        int8_file (str): output ONNX file.
        calibration (Iterator[np.ndarray]): input batches (see
            :class:`ArrayCalibrationReader`); 32-100 images are typical.
        fp32_patterns (Sequence[str]): node-name patterns kept in fp32.
        calibrate_method (str): ``'MinMax'``, ``'Entropy'`` or
            ``'Percentile'`` (onnxruntime's ``CalibrationMethod``).

    Returns:
        dict: ``fp32_nodes`` (names kept in fp32), ``calibration_batches``.

    Raises:
        ValueError: for an unknown ``calibrate_method``, no calibration
            batch, or see :func:`fp32_nodes`.
    """
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    if calibrate_method not in CalibrationMethod.__members__:
        raise ValueError(f'calibrate_method must be one of '
                         f'{list(CalibrationMethod.__members__)}, got '
                         f'{calibrate_method!r}')
    fp32_nodes(fp32_file, fp32_patterns)  # fail early on a foreign graph
    batches = list(calibration)
    if not batches:
        raise ValueError('the calibration iterator gave no batch')
    reader = ArrayCalibrationReader(batches)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = osp.join(tmp, 'prepared.onnx')
        quant_pre_process(at_least_opset(fp32_file, tmp), prepared,
                          skip_symbolic_shape=True)
        # optimisation may rename nodes: look them up again
        keep = fp32_nodes(prepared, fp32_patterns)
        quantize_static(
            prepared,
            int8_file,
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep,
            calibrate_method=CalibrationMethod[calibrate_method])
    copy_metadata(fp32_file, int8_file)
    return dict(fp32_nodes=keep, calibration_batches=len(batches))
