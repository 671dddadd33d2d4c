"""Deployment of yolox_mm detectors.

* :mod:`yolox_mm.deploy.onnx_export`: plain ``torch.onnx.export`` of a
  detector with decoding and NMS in the graph (no mmdeploy;
  ``tools/deployment/export_onnx.py``).
* :mod:`yolox_mm.deploy.mmdeploy_rewriters`: mmdeploy 1.3.1 rewriters of our
  heads' ``predict_by_feat`` and ``Focus.forward`` (mmdeploy matches
  rewriters by qualified name, so mmdet's do not reach our classes; our
  detector inherits ``SingleStageDetector.forward`` and with it mmdeploy's
  rewriter), plus the torch >= 2.9 fix as one more rewriter: inside
  mmdeploy's export ``torch.onnx.export`` defaults to ``dynamo=False``
  (mmdeploy calls it without ``dynamo`` and its rewriters only work with
  the TorchScript exporter).

**Importing this package changes nothing** outside it: no import hook, no
patch of torch, and mmdeploy is not imported. The rewriters are loaded
explicitly, in one of two ways:

1. by mmdeploy itself, from the deploy config
   (``codebase_config=dict(type='mmdet', ...,
   module=['yolox_mm.deploy.mmdeploy_rewriters'])``, see
   ``configs/deploy/``): mmdeploy imports that module in every process
   that converts, also in the subprocesses that its ``tools/deploy.py``
   spawns;
2. by a script that calls mmdeploy's APIs without such a config:
   :func:`register_mmdeploy_rewriters`.

Why the torch fix is a rewriter (and not a patch at import): mmdeploy's
``FUNCTION_REWRITER`` replaces ``torch.onnx.export`` only inside its
``RewriterContext``, i.e. during mmdeploy's own export call, and restores
it on exit; the rest of the process (our plain exporter, other libraries)
sees torch's own ``torch.onnx.export``. The config names the rewriters
module rather than this package because ``import_module`` of an
already-imported package runs nothing: with ``module=['yolox_mm.deploy']``
the rewriters would be missing whenever ``yolox_mm.deploy.onnx_export`` was
imported before mmdeploy converted (the reason for the import hook that
this design removes).
"""

__all__ = ['register_mmdeploy_rewriters']


def register_mmdeploy_rewriters() -> None:
    """Register our mmdeploy rewriters (imports mmdeploy and
    :mod:`yolox_mm.deploy.mmdeploy_rewriters`; idempotent). They act only
    inside mmdeploy's export.

    Raises:
        ImportError: if mmdeploy is not installed.
    """
    from . import mmdeploy_rewriters  # noqa: F401  (registration)
