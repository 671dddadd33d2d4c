"""One visitor over config trees (nested dicts, lists and tuples), used for
every pass of the mmdet-config derivation: copying, mapping component
types, collecting activations and checking types."""
from typing import Callable, Union

#: Returned by a visit to remove the dict from its container.
DROP = object()

Visit = Callable[[str, dict], Union[dict, object]]


def walk(node, visit: Visit, path: str = ''):
    """A copy of the config tree ``node`` in which every dict has passed
    through ``visit`` before its children.

    ``visit(path, d)`` receives a fresh copy ``d`` of each dict (so it may
    change it) and returns the dict to keep (``d`` itself or another) or
    :data:`DROP` to remove it from its container. Paths read like the
    config: ``model.backbone``, ``custom_hooks[3]``. Containers are always
    copied, so no two paths of the result share one (as they can after
    ``a = b`` in a config file); leaves are shared.

    Args:
        node: A config tree, or a leaf.
        visit: The function applied to each dict, parents first.
        path: Path of ``node`` ('' for the root).

    Returns:
        The new tree, or :data:`DROP` when the root dict itself was dropped.
    """
    if isinstance(node, dict):
        node = visit(path, dict(node))
        if node is DROP:
            return DROP
        out = {}
        for key, value in node.items():
            new = walk(value, visit, f'{path}.{key}' if path else key)
            if new is not DROP:
                out[key] = new
        return out
    if isinstance(node, (list, tuple)):
        items = (walk(v, visit, f'{path}[{i}]') for i, v in enumerate(node))
        return type(node)(v for v in items if v is not DROP)
    return node


def plain_copy(tree):
    """A deep copy of a config tree as plain dicts, lists and tuples (a
    ``ConfigDict`` becomes a ``dict``)."""
    return walk(tree, lambda path, d: d)
