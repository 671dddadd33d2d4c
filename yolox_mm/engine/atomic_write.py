"""Replace a file so that a crash leaves either the old or the new one."""
import os
import os.path as osp


def _fsync_dir(dirname: str) -> None:
    """Flush a directory entry to disk (POSIX; a no-op where directories
    cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(dirname or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp_path: str, path: str) -> None:
    """Move the completely written ``tmp_path`` to ``path`` atomically.

    Flushes ``tmp_path`` to disk (``fsync``), renames it over ``path`` with
    :func:`os.replace` (atomic when both are on one file system, POSIX and
    Windows) and flushes the directory. Readers of ``path`` then see the
    old file or the complete new one, never a partial one, whatever moment
    the process is killed at (power loss included, given the fsyncs).

    Raises:
        FileNotFoundError: if ``tmp_path`` does not exist.
    """
    with open(tmp_path, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_dir(osp.dirname(path))


def temp_name(path: str) -> str:
    """The temporary file :func:`write_text_atomic` and
    ``AtomicCheckpointHook`` write before :func:`commit_file`: a hidden
    ``.{name}.tmp`` next to ``path`` (same file system, and not matched by
    ``*.pth``)."""
    dirname, name = osp.split(path)
    return osp.join(dirname, f'.{name}.tmp')


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`temp_name` and
    :func:`commit_file`."""
    tmp = temp_name(path)
    with open(tmp, 'w') as f:
        f.write(text)
    commit_file(tmp, path)
