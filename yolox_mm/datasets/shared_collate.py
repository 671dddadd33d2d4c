"""mmengine's ``pseudo_collate`` with one shared-memory buffer per batch."""
from functools import partial
from typing import Any, Callable, List, Sequence, Tuple

import torch
from mmdet.structures.bbox import BaseBoxes
from mmengine.dataset import pseudo_collate
from mmengine.structures import BaseDataElement
from torch.utils.data import get_worker_info

from yolox_mm.registry import FUNCTIONS

#: One tensor of a batch and how to put another tensor in its place.
_Slot = Tuple[torch.Tensor, Callable[[torch.Tensor], None]]


def _slots(obj: Any) -> List[_Slot]:
    """Every tensor inside ``obj`` (dicts, lists, mmengine data elements
    and mmdet boxes, nested), each with its setter."""
    if isinstance(obj, BaseBoxes):
        return [(obj.tensor, partial(setattr, obj, 'tensor'))]
    if isinstance(obj, BaseDataElement):
        items, put = [(k, getattr(obj, k)) for k in obj.keys()], partial(
            setattr, obj)
    elif isinstance(obj, dict):
        items, put = list(obj.items()), obj.__setitem__
    elif isinstance(obj, list):
        items, put = list(enumerate(obj)), obj.__setitem__
    else:
        return []
    slots = []
    for key, value in items:
        if isinstance(value, torch.Tensor):
            slots.append((value, partial(put, key)))
        else:
            slots.extend(_slots(value))
    return slots


def _into_shared_buffers(slots: Sequence[_Slot]) -> None:
    """Copy the tensors of each dtype into one new shared-memory buffer
    and put contiguous views of it in their places."""
    by_dtype = {}
    for tensor, put in slots:
        by_dtype.setdefault(tensor.dtype, []).append((tensor, put))
    for dtype, group in by_dtype.items():
        flat = torch.empty(sum(t.numel() for t, _ in group), dtype=dtype)
        flat.share_memory_()
        offset = 0
        for tensor, put in group:
            view = flat[offset:offset + tensor.numel()].view(tensor.shape)
            view.copy_(tensor)
            put(view)
            offset += tensor.numel()


@FUNCTIONS.register_module()
def shared_pseudo_collate(data_batch: Sequence) -> Any:
    """mmengine's ``pseudo_collate`` (same structure, values, dtypes and
    shapes); inside a DataLoader worker the CPU tensors of the batch (the
    ``[3, H, W]`` images, each sample's boxes and labels) are then moved
    into one shared-memory buffer per dtype, and the batch holds
    contiguous views of it.

    Why: torch sends every tensor that leaves a worker through a shared
    memory segment of its own and passes its file descriptor over a socket;
    a YOLOX training sample has 5 (image, boxes and labels of the kept and
    of the ignored instances), so a batch of 8 costs 40 of those round
    trips and the views of one buffer cost one per dtype
    (``docs/fused_pipeline.md``). In the main process (``num_workers=0``)
    it is ``pseudo_collate``. Use as ``collate_fn=dict(
    type='yolox_mm.shared_pseudo_collate')`` in a dataloader config.

    Args:
        data_batch: The samples of one batch, as ``pseudo_collate`` takes
            them.
    """
    batch = pseudo_collate(data_batch)
    if get_worker_info() is not None:
        _into_shared_buffers([(t, put) for t, put in _slots(batch)
                              if t.device.type == 'cpu'])
    return batch
