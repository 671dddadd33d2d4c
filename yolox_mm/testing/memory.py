"""Peak memory of one call: the physical memory (RSS) a function needs on
top of its inputs, measured in a forked child.

Method (:func:`peak_rss_delta`): the child is forked for the call (``fork``
shares the parent's modules and inputs copy-on-write, so no re-import). It
fixes glibc's mmap threshold at 128 KiB (``mallopt(M_MMAP_THRESHOLD)``:
every block of 128 KiB or more is ``mmap``-ed and returned to the OS when
freed, so RSS follows live memory), runs the function once (warm-up),
releases the free heap pages it inherited or freed (``malloc_trim(0)``:
reusing them then shows up in RSS), resets the kernel's RSS high-water mark
(``/proc/self/clear_refs`` <- 5), runs it again and reports ``VmHWM -
VmRSS_before``. Checked on known allocations to within 0.1 %. Torch uses 1
thread in the child (OpenMP is not fork-safe once the parent has used a
thread pool). The child runs under ``RLIMIT_AS`` = its size + ``limit``, so
an underestimated case fails the child (a ``failed ...`` reading), never
the machine. A reading moves by a few MB with the history of the parent:
take the :func:`smallest` of several.

Linux and glibc only (``/proc``, ``libc.so.6``); see
:func:`peak_rss_supported`.
"""
import ctypes
import gc
import multiprocessing
import resource
from typing import Callable, List, Optional, Tuple

import torch

GIB = 1 << 30
MIB = 1 << 20
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_RLIMIT_MARGIN = 512 * MIB  # virtual address space for arenas and stacks


def _status_bytes(key: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` in bytes."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def mem_available() -> int:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes."""
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_supported() -> bool:
    """Whether this kernel lets a process reset its RSS high-water mark."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        _status_bytes('VmHWM')
        return True
    except OSError:
        return False


def _peak_rss_child(run: Callable[[], object], limit: int, conn) -> None:
    try:
        torch.set_num_threads(1)
        libc = ctypes.CDLL('libc.so.6')
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        address_space = _status_bytes('VmSize') + limit + _RLIMIT_MARGIN
        resource.setrlimit(resource.RLIMIT_AS,
                           (address_space, resource.RLIM_INFINITY))
        with torch.no_grad():
            run()  # warm-up: lazy initialisations are not counted
            gc.collect()
            # free heap pages (the parent's and the warm-up's) stop being
            # resident, so reusing them shows up in RSS
            libc.malloc_trim(0)
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # VmHWM := VmRSS
            before = _status_bytes('VmRSS')
            run()
            conn.send(('ok', _status_bytes('VmHWM') - before))
    except Exception as exc:  # reported, e.g. allocation beyond the limit
        conn.send((f'failed ({type(exc).__name__}: {str(exc)[:60]})', None))
    finally:
        conn.close()


def peak_rss_delta(run: Callable[[], object], limit: int,
                   timeout: float = 3600.0) -> Tuple[str, Optional[int]]:
    """Peak RSS (bytes) that one call of ``run`` adds, in a forked child
    limited to ``limit`` bytes more address space; see the module docstring.

    Args:
        run: The call to measure (run twice in the child, under
            ``torch.no_grad``); its result is discarded.
        limit: Bytes of address space the child may add.
        timeout: Seconds to wait for the child.

    Returns:
        ``('ok', bytes)`` or ``(reason, None)``.
    """
    ctx = multiprocessing.get_context('fork')
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_peak_rss_child, args=(run, limit, send),
                       daemon=True)
    proc.start()
    send.close()
    try:
        if recv.poll(timeout):
            result = recv.recv()
        else:
            result = ('failed (timeout)', None)
    except EOFError:
        result = (f'failed (child exit code {proc.exitcode})', None)
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return result


def memory_limit(max_gb: float) -> int:
    """Bytes a measured case may use: ``max_gb`` GiB, at most 60 % of what
    the machine has available now."""
    return int(min(max_gb * GIB, 0.6 * mem_available()))


def smallest(readings: List[Tuple[str, Optional[int]]]
             ) -> Tuple[str, Optional[int]]:
    """The successful ``peak_rss_delta`` reading with the fewest bytes (or
    the first failure if none succeeded)."""
    ok = [r for r in readings if r[1] is not None]
    return min(ok, key=lambda r: r[1]) if ok else readings[0]
