"""keep_images_on_heap: page faults of a fused-like allocation pattern."""
import platform
import subprocess
import sys

import pytest

from yolox_mm.datasets.transforms import heap

HEAP_FILE = heap.__file__

# A fresh interpreter per count: the thresholds are process state.
PATTERN = '''
import importlib.util, resource, sys
import numpy as np
spec = importlib.util.spec_from_file_location('heap', sys.argv[2])
heap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(heap)  # the module alone: no mmdet import
if sys.argv[1] == 'warm':
    heap.keep_images_on_heap()
    heap.keep_images_on_heap()  # the second call does nothing
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):  # a sample: five 1.2 MB images, written, then freed
    images = [np.ones(1_228_800, np.uint8) for _ in range(5)]
    del images
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
'''


def minor_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, '-c', PATTERN, mode, HEAP_FILE],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc',
                    reason="glibc's dynamic mmap threshold")
def test_the_warmed_heap_keeps_its_pages():
    cold, warm = minor_faults('cold'), minor_faults('warm')
    # cold: the 6 MB freed at the top of the heap exceed glibc's trim
    # threshold (2 x 1.2 MB) and are given back every sample, ~1500 pages
    # refaulted each; warm: the pages of the first sample are reused
    assert cold > 40 * 1000
    assert warm < cold / 10


def test_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, '_warmed_pid', None)
    monkeypatch.setattr(heap.np, 'empty',
                        lambda *a, **k: calls.append(a) or bytearray(1))
    heap.keep_images_on_heap()
    heap.keep_images_on_heap()
    assert calls == [(heap.HEAP_BLOCK_BYTES, )]
