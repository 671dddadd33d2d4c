"""What a config changes in what it inherits, for mmengine's old-style
configs (``_base_`` plus dict merge; configs/README.md).

Two things of those configs make a child copy its base, and these
functions remove both:

* lists are replaced, not merged: to change one field of one transform a
  child would restate the whole pipeline (:func:`set_fields`,
  :func:`drop_type`);
* a knob re-assigned in a child (``img_scale = (416, 416)``,
  ``max_epochs = 200``) does not reach the dicts its base built from it
  (mmengine 0.10.7 executes each file on its own): the child derives them
  again, from the one definition here (:func:`with_canvas`,
  :func:`yolox_lr_schedule`).

A config calls them on ``_base_.<key>`` (mmengine's reference to the
inherited value) after its ``_base_`` line::

    _base_ = './yolox_l_8xb8-300e_coco.py'
    from yolox_mm.utils.config_deltas import drop_type

    train_pipeline = drop_type(_base_.train_pipeline, 'MixUp')

Every function returns new lists of copies and leaves its arguments
unchanged. mmengine drops imported functions from a config, so
``Config.dump`` and ``pretty_text`` show only the resulting values. The
module imports nothing but the standard library.
"""
import copy
from typing import Any, Dict, List, Sequence, Tuple

#: The field each canvas-sized transform takes the canvas ``(w, h)`` in.
CANVAS_FIELDS = {'Mosaic': 'img_scale', 'MixUp': 'img_scale',
                 'Resize': 'scale'}


def _type_name(item: Any) -> str:
    if not isinstance(item, dict) or 'type' not in item:
        raise TypeError('expected a list of dicts with a "type" (transforms, '
                        f'hooks, schedulers), got an item {item!r}')
    return str(item['type'])


def _copies_with(items: Sequence[dict], type_name: str) -> Tuple[list, list]:
    """Deep copies of ``items`` and the positions of those of
    ``type_name``; ``ValueError`` naming the types present if none is."""
    if not isinstance(items, (list, tuple)):
        raise TypeError(f'expected a list of dicts, got {type(items)}')
    types = [_type_name(item) for item in items]
    where = [i for i, name in enumerate(types) if name == type_name]
    if not where:
        raise ValueError(f'no item of type {type_name!r} to edit; the types '
                         f'are {types}')
    return [copy.deepcopy(item) for item in items], where


def set_fields(items: Sequence[dict], type_name: str,
               **fields: Any) -> List[dict]:
    """``items`` (a pipeline, ``custom_hooks``, ``param_scheduler`` ...)
    with ``fields`` set in every item whose ``type`` is ``type_name``.

    Example: ``set_fields(_base_.custom_hooks, 'YOLOXModeSwitchHook',
    num_last_epochs=50)``.

    Raises:
        ValueError: no item has that type (a stale edit).
        TypeError: ``items`` is not a list of dicts with a ``type``.
    """
    result, where = _copies_with(items, type_name)
    for i in where:
        result[i].update(copy.deepcopy(fields))
    return result


def drop_type(items: Sequence[dict], type_name: str) -> List[dict]:
    """``items`` without those whose ``type`` is ``type_name``.

    Raises:
        ValueError: no item has that type.
        TypeError: as :func:`set_fields`.
    """
    result, where = _copies_with(items, type_name)
    return [item for i, item in enumerate(result) if i not in where]


def _check_canvas(img_scale: Any) -> Tuple[int, int]:
    ok = (isinstance(img_scale, (list, tuple)) and len(img_scale) == 2
          and all(isinstance(s, int) and s > 0 for s in img_scale))
    if not ok:
        raise ValueError('img_scale must be (width, height), two positive '
                         f'ints, got {img_scale!r}')
    return tuple(img_scale)


def with_canvas(pipeline: Sequence[dict],
                img_scale: Tuple[int, int]) -> List[dict]:
    """``pipeline`` at the canvas ``img_scale = (w, h)`` in pixels: the
    ``img_scale`` of Mosaic and MixUp and the ``scale`` of Resize become
    ``img_scale``, RandomAffine's ``border`` becomes ``(-w // 2, -h // 2)``
    (the Mosaic output is ``2h x 2w``; RandomAffine crops it back to
    ``h x w``, Megvii ``yolox/data/data_augment.py``). Other transforms are
    copied as they are.

    Raises:
        ValueError: ``img_scale`` is not two positive ints, or no transform
            of ``pipeline`` depends on the canvas.
    """
    w, h = _check_canvas(img_scale)
    result = [copy.deepcopy(t) for t in pipeline]
    edited = 0
    for transform in result:
        name = _type_name(transform)
        if name in CANVAS_FIELDS:
            transform[CANVAS_FIELDS[name]] = (w, h)
        elif name == 'RandomAffine':
            transform['border'] = (-w // 2, -h // 2)
        else:
            continue
        edited += 1
    if not edited:
        raise ValueError(
            'no transform of the pipeline depends on the canvas (expected '
            f'one of {sorted(CANVAS_FIELDS) + ["RandomAffine"]}), got '
            f'{[_type_name(t) for t in result]}')
    return result


def yolox_lr_schedule(max_epochs: int, num_last_epochs: int,
                      warmup_epochs: int, base_lr: float) -> List[Dict]:
    """The YOLOX learning-rate schedule (paper section 2.1,
    "Implementation details"; Megvii ``yolox/utils/lr_scheduler.py``,
    ``yoloxwarmcos``), in epochs, each phase stepped per iteration:

    1. ``[0, warmup_epochs)``: quadratic warm-up from 0 to ``base_lr``;
    2. ``[warmup_epochs, max_epochs - num_last_epochs)``: cosine from
       ``base_lr`` to ``0.05 * base_lr``;
    3. ``[max_epochs - num_last_epochs, max_epochs)``: constant at
       ``0.05 * base_lr`` (the epochs without Mosaic and MixUp).

    Returns:
        list[dict]: the three ``param_scheduler`` entries.

    Raises:
        ValueError: a phase would be empty (each needs at least one epoch).
    """
    cosine_end = max_epochs - num_last_epochs
    if not (warmup_epochs >= 1 and num_last_epochs >= 1
            and cosine_end > warmup_epochs):
        raise ValueError(
            'each phase needs at least one epoch: expected warmup_epochs >= '
            '1, num_last_epochs >= 1 and warmup_epochs + num_last_epochs < '
            f'max_epochs, got max_epochs={max_epochs}, num_last_epochs='
            f'{num_last_epochs}, warmup_epochs={warmup_epochs}')
    return [
        dict(type='QuadraticWarmupLR', by_epoch=True, begin=0,
             end=warmup_epochs, convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05,
             begin=warmup_epochs, T_max=cosine_end - warmup_epochs,
             end=cosine_end, by_epoch=True, convert_to_iter_based=True),
        dict(type='ConstantLR', by_epoch=True, factor=1, begin=cosine_end,
             end=max_epochs),
    ]
