"""Keep a worker's per-sample images on the malloc heap (glibc)."""
import os

import numpy as np

#: Size of the block :func:`keep_images_on_heap` allocates and frees once:
#: glibc then serves blocks up to this size from its heap and trims the heap
#: only when twice this much is free at its top. glibc adjusts its threshold
#: only for blocks up to 32 MiB (``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit).
HEAP_BLOCK_BYTES = 16 << 20

_warmed_pid = None


def keep_images_on_heap() -> None:
    """Allocate and free one :data:`HEAP_BLOCK_BYTES` block, once per
    process (a forked DataLoader worker does it again).

    Why: glibc's malloc maps each block above its mmap threshold (128 KiB
    at start) from the kernel and unmaps it on free, and it returns free
    heap above its trim threshold to the kernel; either way the next sample
    touches fresh pages (a minor page fault per 4 KiB). The threshold rises
    by itself to the largest block freed so far, so a pipeline whose
    largest image is ~1.6 MB (the fused step: no ``2W x 2H`` mosaic
    canvas) keeps trimming the few MB it allocates per sample: ~1560 page
    faults and ~2.8 ms of system time a 640 x 640 tree sample in a process
    of its own (``docs/fused_pipeline.md``). Freeing one 16 MiB block
    raises both thresholds (16 and 32 MiB) once, as the three-step path's
    mosaic canvas and mmdet's float32 MixUp canvas already do in passing.

    The block is never touched (no page is faulted in); the only effect is
    glibc's thresholds for this process, which stay adaptive (no
    ``mallopt``). With another allocator it is a harmless ``malloc`` and
    ``free``. ``tests/test_datasets/test_transforms/test_heap.py`` counts
    the page faults of a fused-like allocation pattern with and without.
    """
    global _warmed_pid
    if _warmed_pid == os.getpid():
        return
    _warmed_pid = os.getpid()
    block = np.empty(HEAP_BLOCK_BYTES, dtype=np.uint8)
    del block
