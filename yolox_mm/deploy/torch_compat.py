"""torch >= 2.9 compatibility of mmdeploy 1.3.1's ONNX export.

torch 2.9 made ``torch.onnx.export`` default to ``dynamo=True`` (the
``torch.export``-based exporter). mmdeploy 1.3.1 calls ``torch.onnx.export``
without ``dynamo`` and relies on the TorchScript exporter (its function
rewriters patch Python functions traced by ``torch.jit``, its symbolic
functions emit ONNX nodes), so every export fails: without onnxscript
``ModuleNotFoundError: No module named 'onnxscript'``, with it an opset
down-conversion error and then ``KeyError: -1`` in the rewriter context.
"""
import functools
import inspect

import torch

_MARK = '_yolox_mm_dynamo_default_false'


def default_onnx_export_to_torchscript() -> bool:
    """Make ``torch.onnx.export`` default to ``dynamo=False`` (callers that
    pass ``dynamo`` are unaffected). Idempotent; a no-op on torch versions
    whose ``export`` has no ``dynamo`` argument.

    Returns:
        bool: whether ``torch.onnx.export`` is now the patched function.
    """
    export = torch.onnx.export
    if getattr(export, _MARK, False):
        return True
    if 'dynamo' not in inspect.signature(export).parameters:
        return False

    @functools.wraps(export)
    def export_torchscript_by_default(*args, dynamo: bool = False, **kwargs):
        return export(*args, dynamo=dynamo, **kwargs)

    setattr(export_torchscript_by_default, _MARK, True)
    torch.onnx.export = export_torchscript_by_default
    return True
