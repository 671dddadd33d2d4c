"""Safe loading of mmengine checkpoints on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and every
checkpoint an mmengine 0.10.7 Runner saves fails that way: its
``message_hub`` holds ``HistoryBuffer`` objects with numpy arrays
(mmengine #1655). Turning ``weights_only`` off (mmengine PR #1650) would let
any checkpoint run code. Instead we allow-list exactly the globals such
checkpoints contain (found with ``torch.serialization.
get_unsafe_globals_in_checkpoint`` on our own checkpoints), and replace
mmengine's local-file loader with one that keeps ``weights_only=True`` and
explains a refusal. Both happen in :func:`install_safe_checkpoint_loading`,
an explicit call of our launchers, never on ``import yolox_mm``.

Also here: weights that do not fit the model are reported to the run's log
(mmengine prints them to stdout only), with a hint when only the number of
classes differs, and :func:`drop_head` for fine-tuning on other classes.
"""
import logging
import os.path as osp
import pickle
import zipfile
from typing import List, Optional, Sequence

import mmengine.runner.checkpoint as mmengine_checkpoint
import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.logging import print_log
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_integrity import (checkpoint_damage,
                                   damaged_checkpoint_error, use_instead_hint)

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray


def mmengine_checkpoint_globals() -> List[object]:
    """The non-tensor globals of an mmengine Runner checkpoint.

    ``HistoryBuffer`` (logged scalars), numpy arrays, dtypes and scalars
    inside it, and ``getattr``, which pickle uses for the buffer's bound
    statistics methods (``getattr(buffer, 'mean')``; the weights-only
    unpickler still refuses to *call* anything not allow-listed).
    """
    dtypes = {type(np.dtype(t)) for t in (np.float16, np.float32, np.float64,
                                          np.int32, np.int64, np.bool_)}
    return [
        HistoryBuffer, _multiarray._reconstruct, _multiarray.scalar,
        np.ndarray, np.dtype, getattr, *sorted(dtypes, key=str)
    ]


def register_safe_globals() -> None:
    """Add :func:`mmengine_checkpoint_globals` to torch's weights-only
    allow-list (idempotent)."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def load_local_checkpoint(filename: str, map_location=None):
    """mmengine's local checkpoint loader, weights-only.

    Raises:
        FileNotFoundError: if ``filename`` does not exist; the message names
            the newest complete checkpoint of its directory, if any.
        DamagedCheckpointError: (a ``RuntimeError``) if the file is empty,
            truncated (e.g. killed while it was written) or otherwise not a
            readable torch file; the message names the file, why, and the
            newest complete checkpoint of its directory (or that there is
            none) instead of torch's unpickling or zip traceback.
        pickle.UnpicklingError: if the file references a global outside the
            allow-list (it might run code when loaded); the message names
            the file and the global, and how to load a trusted file anyway.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found. '
                                f'{use_instead_hint(filename)}')
    damage = checkpoint_damage(filename)
    if damage is not None:
        raise damaged_checkpoint_error(filename, damage)
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except (EOFError, KeyError, zipfile.BadZipFile) as e:
        # what torch raises for truncated or garbage legacy-format files
        detail = f'{type(e).__name__}: {e}' if str(e) else type(e).__name__
        raise damaged_checkpoint_error(
            filename, f'torch.load failed with {detail}') from None
    except RuntimeError as e:
        if 'PytorchStreamReader' not in str(e):
            raise
        raise damaged_checkpoint_error(
            filename,
            'torch.load failed with ' + str(e).split('. ')[0]) from None
    except pickle.UnpicklingError as e:
        detail = str(e).split('WeightsUnpickler error:')[-1].strip()
        detail = detail.splitlines()[0] if detail else ''
        raise pickle.UnpicklingError(
            f'Refused to load {filename}: it is not a plain weights '
            f'checkpoint ({detail}). Loading it could run code. If you '
            'trust the file, load it with torch.load(..., '
            'weights_only=False) and re-save its state_dict, or set '
            'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 for this run.') from None


def install_safe_checkpoint_loading() -> None:
    """Make mmengine load local checkpoints weights-only, and report
    mismatching weights to the log. Idempotent; not done on import.

    Three process-wide changes, all in mmengine / torch:

    1. :func:`register_safe_globals`: torch's weights-only allow-list gets
       :func:`mmengine_checkpoint_globals`;
    2. ``CheckpointLoader.register_scheme(prefixes='', force=True)``: every
       local path (``load_from``, ``--resume``, ``tools/test.py``, mmdet's
       ``init_detector``) is loaded by :func:`load_local_checkpoint`
       (``weights_only=True``, clear errors for damaged or unsafe files)
       instead of mmengine's ``load_from_local``;
    3. ``mmengine.runner.checkpoint.load_state_dict`` becomes
       :func:`load_state_dict` (mmengine's Runner and ``EMAHook`` look the
       name up at call time), which logs the mismatch report and
       :func:`num_classes_hint`.

    Called by our launchers: ``tools/train.py`` and ``tools/test.py``
    (through :func:`yolox_mm.utils.launch.build_runner`), the demos and the
    tools under ``tools/`` that load checkpoints. Another project calls it
    once itself (``from yolox_mm.utils import
    install_safe_checkpoint_loading``) or through
    ``register_all_modules(safe_checkpoints=True)``; ``import yolox_mm``
    alone changes none of the three.
    """
    register_safe_globals()
    if not safe_checkpoint_loading_installed():
        CheckpointLoader.register_scheme(prefixes='',
                                         loader=load_local_checkpoint,
                                         force=True)
        mmengine_checkpoint.load_state_dict = load_state_dict


def safe_checkpoint_loading_installed() -> bool:
    """Whether :func:`install_safe_checkpoint_loading` is in effect: local
    paths go to :func:`load_local_checkpoint` and mmengine's
    ``load_state_dict`` is :func:`load_state_dict`."""
    return (CheckpointLoader._schemes.get('') is load_local_checkpoint
            and mmengine_checkpoint.load_state_dict is load_state_dict)


#: The tensors of a YOLOX checkpoint whose shape depends on ``num_classes``:
#: the 1x1 class-prediction convolutions of the three levels.
CLASS_PREDICTION_PREFIXES = ('bbox_head.multi_level_conv_cls.', )

# mmengine's function (also if this module is re-imported after patching)
_mmengine_load_state_dict = getattr(mmengine_checkpoint.load_state_dict,
                                    '__wrapped__',
                                    mmengine_checkpoint.load_state_dict)


def num_classes_hint(module: torch.nn.Module,
                     state_dict: dict) -> Optional[str]:
    """Explain a class-count mismatch between ``state_dict`` and ``module``.

    Returns:
        str or None: None unless some class-prediction tensor
        (:data:`CLASS_PREDICTION_PREFIXES`) has another shape in
        ``state_dict``; then a message with both class counts, what happens
        to those layers and how to drop them.
    """
    if is_model_wrapper(module):
        module = module.module
    own = module.state_dict()
    mismatched = [
        key for key, value in state_dict.items()
        if key.startswith(CLASS_PREDICTION_PREFIXES) and key in own
        and hasattr(value, 'shape') and value.shape != own[key].shape
    ]
    if not mismatched:
        return None
    key = mismatched[0]
    return (f'The checkpoint predicts {state_dict[key].shape[0]} classes and '
            f'the model {own[key].shape[0]} (bbox_head.num_classes): its '
            f'class-prediction layers ({len(mismatched)} tensors '
            f'{CLASS_PREDICTION_PREFIXES[0]}*) were not loaded and keep their '
            'initial values, as fine-tuning on other classes needs; the '
            'other weights of the same shape were loaded. To drop them from '
            'the checkpoint instead (no size-mismatch warning): python '
            'tools/model_converters/drop_head.py SRC DST')


def load_state_dict(module: torch.nn.Module,
                    state_dict: dict,
                    strict: bool = False,
                    logger=None):
    """mmengine's ``load_state_dict``, reporting to the log.

    mmengine's Runner (``load_from``, ``--resume``) and ``EMAHook`` call it
    with ``logger=None``, so its report of missing, unexpected and
    mismatching keys went to stdout only, not to the run's log file. Here
    ``logger=None`` means the current ``MMLogger`` (the Runner's, which also
    prints), and :func:`num_classes_hint` is logged after the report when
    only the number of classes differs. Same arguments and behaviour
    otherwise (``strict=True`` still raises).
    """
    if logger is None:
        logger = 'current'
    hint = num_classes_hint(module, state_dict)
    _mmengine_load_state_dict(module, state_dict, strict, logger)
    if hint is not None and get_rank() == 0:
        print_log(hint, logger=logger, level=logging.WARNING)


load_state_dict.__wrapped__ = _mmengine_load_state_dict


def drop_head(checkpoint: dict,
              prefixes: Sequence[str] = CLASS_PREDICTION_PREFIXES) -> dict:
    """A checkpoint for fine-tuning with another ``num_classes``.

    Loading a checkpoint trained with other classes (e.g. COCO's 80) with
    ``load_from`` works as it is: mmengine skips the class-prediction
    layers (``size mismatch for bbox_head.multi_level_conv_cls.0.weight:
    copying a param with shape torch.Size([80, 64, 1, 1]) from checkpoint,
    the shape in current model is torch.Size([1, 64, 1, 1])``, followed by
    :func:`num_classes_hint`) and they keep their initial values. Dropping
    them beforehand says so explicitly: they are then reported as
    ``missing keys in source state_dict``.

    Args:
        checkpoint: An mmengine checkpoint (with ``'state_dict'``) or a bare
            state_dict.
        prefixes: Keys that start with one of these are dropped. Defaults
            to :data:`CLASS_PREDICTION_PREFIXES` (only the class
            predictions; the rest of the head is kept, as are the box and
            objectness predictions). ``('bbox_head.', )`` drops the whole
            head.

    Returns:
        dict: ``{'meta': ..., 'state_dict': ...}`` with the remaining
        weights (a new dict; tensors are shared). ``meta`` is the input's,
        plus ``dropped_keys``. Training state (optimizer, schedulers, EMA
        weights, message hub) is not kept: the result is for ``load_from``,
        not ``--resume``.

    Raises:
        KeyError: if no key starts with any of ``prefixes`` (wrong prefix,
            or not a YOLOX checkpoint); the message lists the prefixes and
            some of the keys found.
    """
    prefixes = tuple(prefixes)
    state_dict = checkpoint.get('state_dict', checkpoint)
    kept = {k: v for k, v in state_dict.items() if not k.startswith(prefixes)}
    dropped = sorted(set(state_dict) - set(kept))
    if not dropped:
        raise KeyError(f'No key of the checkpoint starts with {prefixes}; '
                       f'found e.g. {sorted(state_dict)[:5]}')
    meta = dict(checkpoint.get('meta') or {}) if 'state_dict' in checkpoint \
        else {}
    meta['dropped_keys'] = dropped
    return dict(meta=meta, state_dict=kept)
