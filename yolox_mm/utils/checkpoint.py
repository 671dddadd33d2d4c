"""Safe loading of mmengine checkpoints on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and every
checkpoint an mmengine 0.10.7 Runner saves fails that way: its
``message_hub`` holds ``HistoryBuffer`` objects with numpy arrays
(mmengine #1655). Turning ``weights_only`` off (mmengine PR #1650) would let
any checkpoint run code. Instead we allow-list exactly the globals such
checkpoints contain (found with ``torch.serialization.
get_unsafe_globals_in_checkpoint`` on our own checkpoints), and replace
mmengine's local-file loader with one that keeps ``weights_only=True`` and
explains a refusal.
"""
import os.path as osp
import pickle
from typing import List

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

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
        FileNotFoundError: if ``filename`` does not exist.
        pickle.UnpicklingError: if the file references a global outside the
            allow-list (it might run code when loaded); the message names
            the file and the global, and how to load a trusted file anyway.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
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
    """Allow-list mmengine's checkpoint globals and route local checkpoint
    loading (``load_from``, ``--resume``, ``tools/test.py``) through
    :func:`load_local_checkpoint`. Called when ``yolox_mm`` is imported."""
    register_safe_globals()
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint,
                                     force=True)
