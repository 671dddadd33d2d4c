"""``_base_ = 'yolox_mm::...'``: inheriting yolox_mm's configs from another
project.

mmengine 0.10.7 resolves ``PACKAGE::PATH`` in ``_base_`` in
``Config._get_cfg_path`` (``mmengine/config/config.py``) and refuses
packages it does not know, before any of the config's ``custom_imports``
run:

* ``PACKAGE`` must be a key of the fixed dict
  ``mmengine.config.utils.MODULE2PACKAGE`` (mmdet, mmyolo, ... but no
  third-party package): ``AssertionError: mmengine does not support to load
  yolox_mm config``;
* ``PATH`` must match ``\\w*/\\w*`` (a folder, ``'mmdet::yolox/x.py'``): a
  top-level config (``'yolox_mm::yolox_s_8xb8-300e_coco.py'``) is a
  ``ValueError``;
* the package folder comes from ``pkg_resources`` (gone in setuptools >=
  81) and is wrong for a PEP 660 editable install (the dist-info's folder,
  not the source).

:func:`enable_config_scope`, called once before ``Config.fromfile`` (our
``tools/train.py`` and ``tools/test.py`` do), resolves ``yolox_mm::PATH``
itself, to ``yolox_mm/.mim/configs/PATH`` of the imported package (what
``setup.py`` ships) or, in a source checkout without ``.mim``, to
``configs/PATH`` beside the package; every other path goes to mmengine
unchanged. Nothing happens on ``import yolox_mm``.
"""
import os.path as osp
from typing import Optional, Tuple

SCOPE = 'yolox_mm'
_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_dirs() -> Tuple[str, ...]:
    """Where ``yolox_mm::`` configs are looked up, in order: the installed
    package data (``.mim/configs``) and the source checkout's
    ``configs``."""
    return (osp.join(_PACKAGE_DIR, '.mim', 'configs'),
            osp.join(osp.dirname(_PACKAGE_DIR), 'configs'))


def resolve_config(path: str) -> str:
    """The file of ``yolox_mm::path`` (``path`` relative to ``configs/``).

    Raises:
        FileNotFoundError: naming the folders searched.
    """
    for folder in config_dirs():
        candidate = osp.join(folder, path)
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f'{SCOPE}::{path}: no such config in {list(config_dirs())}. The '
        'configs are package data of a built yolox_mm (pip install .); '
        'see configs/metafile.yml for their names.')


def _split_scope(cfg_path: str) -> Optional[str]:
    scope, sep, path = cfg_path.partition('::')
    return path if sep and scope == SCOPE else None


def enable_config_scope() -> None:
    """Make mmengine's ``Config`` resolve ``yolox_mm::PATH`` (module doc).

    Idempotent. ``PATH`` may name a top-level config
    (``yolox_mm::yolox_s_8xb8-300e_coco.py``) or one in a folder
    (``yolox_mm::_base_/default_runtime.py``). The base's dicts get
    ``_scope_='yolox_mm'`` as for any package-scoped base, so their types
    are looked up in yolox_mm's registries.
    """
    from mmengine.config import Config

    current = Config.__dict__['_get_cfg_path']
    if getattr(current, '_yolox_mm', False):
        return
    mmengine_get_cfg_path = current.__func__

    def _get_cfg_path(cfg_path: str, filename: str):
        path = _split_scope(cfg_path)
        if path is None:
            return mmengine_get_cfg_path(cfg_path, filename)
        return resolve_config(path), SCOPE

    _get_cfg_path.__doc__ = mmengine_get_cfg_path.__doc__
    patched = staticmethod(_get_cfg_path)
    _get_cfg_path._yolox_mm = True
    Config._get_cfg_path = patched
