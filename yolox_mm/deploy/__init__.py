"""Deployment of yolox_mm detectors.

* :mod:`yolox_mm.deploy.onnx_export`: plain ``torch.onnx.export`` of a
  detector with decoding and NMS in the graph (no mmdeploy;
  ``tools/deployment/export_onnx.py``).
* :mod:`yolox_mm.deploy.mmdeploy_rewriters`: mmdeploy 1.3.1 rewriters of our
  ``YOLOXHead.predict_by_feat`` and ``Focus.forward`` (mmdeploy matches
  rewriters by qualified name, so mmdet's do not reach our classes; our
  detector inherits ``SingleStageDetector.forward`` and with it mmdeploy's
  rewriter), and the torch >= 2.9 fix: ``torch.onnx.export`` defaults to
  ``dynamo=False`` again, because mmdeploy calls it without ``dynamo`` and
  its rewriters only work with the TorchScript exporter.

mmdeploy loads this package through the deploy config
(``codebase_config=dict(type='mmdet', ..., module=['yolox_mm.deploy'])``,
see ``configs/deploy/``), also in the subprocesses that its
``tools/deploy.py`` spawns. Importing this package never imports mmdeploy:
the rewriters are registered now if mmdeploy is already imported, else right
after mmdeploy's own import (a one-shot import hook), so the import order
does not matter. ``yolox_mm/__init__.py`` never imports this package.
"""
import importlib.abc
import importlib.util
import sys

__all__ = ['register_mmdeploy_rewriters']


def register_mmdeploy_rewriters() -> None:
    """Register the mmdeploy rewriters and force ``dynamo=False`` in
    ``torch.onnx.export`` (imports mmdeploy; idempotent)."""
    from . import mmdeploy_rewriters  # noqa: F401  (registration)


class _AfterMMDeployImport(importlib.abc.MetaPathFinder):
    """Runs :func:`register_mmdeploy_rewriters` once ``import mmdeploy``
    has executed mmdeploy's ``__init__``; removes itself at first use."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'mmdeploy':
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register_mmdeploy_rewriters()

        spec.loader.exec_module = exec_then_register
        return spec


if 'mmdeploy' in sys.modules:
    register_mmdeploy_rewriters()
elif not any(isinstance(f, _AfterMMDeployImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterMMDeployImport())
