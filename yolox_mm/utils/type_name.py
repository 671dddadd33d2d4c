"""The registry name of a config's ``type``, without its scope."""
from typing import Union


def type_name(type_: Union[str, type]) -> str:
    """The name a config's ``type`` is registered under, scope dropped.

    ``'yolox_mm.Mosaic'`` -> ``'Mosaic'``, ``'mmdet.EMAHook'`` ->
    ``'EMAHook'``, ``'Mosaic'`` -> ``'Mosaic'``; a class (the ``type`` of a
    pure-Python config) gives its ``__name__``. mmengine's ``Registry``
    splits a scoped name at its first dot (``Registry.split_scope_key``);
    registry names have no dots, so the part after the last dot is the
    same name.

    Raises:
        TypeError: if ``type_`` is neither a string nor a class.
    """
    if isinstance(type_, str):
        return type_.rpartition('.')[2]
    if isinstance(type_, type):
        return type_.__name__
    raise TypeError('a config type must be a registry name (str) or a '
                    f'class, but received {type_!r}')
