"""mmdet's own tool scripts, run or imported as they are.

The mmdet 3.3.0 wheel ships its ``tools/`` folder as package data under
``mmdet/.mim/tools/`` (what ``mim run mmdet <tool>`` runs). Those that work
unchanged on yolox_mm configs are wrapped by our ``tools/analysis_tools/``
scripts through :func:`run_tool` (same arguments as mmdet's), and
:func:`load_tool` gives their functions to our code (e.g. mmdet's
``calculate_confusion_matrix``).
"""
import importlib.util
import os.path as osp
import runpy
import sys
from types import ModuleType
from typing import Optional, Sequence


def tool_path(relpath: str) -> str:
    """Path of ``mmdet/.mim/tools/<relpath>`` in the installed mmdet.

    Raises:
        FileNotFoundError: when this mmdet has no such tool (e.g. an
            installation without its ``.mim`` package data).
    """
    import mmdet
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', relpath)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mmdet {mmdet.__version__} has no tools/{relpath} at {path}; '
            'install the mmdet 3.3.0 wheel (it ships tools/ as package data)')
    return path


def load_tool(relpath: str) -> ModuleType:
    """Import mmdet's ``tools/<relpath>`` as a module (its ``main`` is not
    run), e.g. ``load_tool('analysis_tools/confusion_matrix.py')``."""
    path = tool_path(relpath)
    name = 'mmdet_tool_' + relpath.replace('/', '_').replace('.py', '')
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def run_tool(relpath: str, argv: Optional[Sequence[str]] = None) -> None:
    """Run mmdet's ``tools/<relpath>`` as ``__main__`` with ``argv`` (the
    arguments after the script name; default: this process's)."""
    path = tool_path(relpath)
    args = list(sys.argv[1:] if argv is None else argv)
    saved = sys.argv
    sys.argv = [path] + args
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        sys.argv = saved
