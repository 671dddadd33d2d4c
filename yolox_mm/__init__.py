"""yolox_mm: YOLOX (arXiv 2107.08430) as an MMDetection 3.x plugin.

Importing the package checks the mmdet / mmengine versions and registers
every component in the ``yolox_mm`` registry scope, so
``custom_imports=dict(imports=['yolox_mm'])`` is all another mmdet project
needs. Nothing outside the package changes: mmengine's checkpoint loading,
``torch.onnx.export`` and the import system stay as they were
(``tests/test_package/test_import_is_quiet.py``). Safe (weights-only)
checkpoint loading is an explicit call,
:func:`yolox_mm.utils.install_safe_checkpoint_loading`, made by our
launchers (``tools/train.py``, ``tools/test.py``, the demos);
``yolox_mm.deploy`` (mmdeploy rewriters) is never imported from here.
"""
import mmdet
import mmengine
from mmengine.utils import digit_version

from .version import __version__

_MMDET_RANGE = ('3.3.0', '3.4.0')
_MMENGINE_RANGE = ('0.10.0', '1.0.0')


def _check_version(name: str, version: str, low: str, high: str) -> None:
    if not digit_version(low) <= digit_version(version) < digit_version(high):
        raise ImportError(
            f'yolox_mm {__version__} needs {low} <= {name} < {high}, '
            f'found {name}=={version}. Run `make setup` to install the '
            'pinned stack.')


_check_version('mmdet', mmdet.__version__, *_MMDET_RANGE)
_check_version('mmengine', mmengine.__version__, *_MMENGINE_RANGE)

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .utils import register_all_modules  # noqa: E402

__all__ = ['__version__', 'register_all_modules']
