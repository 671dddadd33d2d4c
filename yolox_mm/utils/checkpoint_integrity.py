"""Tell a damaged (e.g. half-written) checkpoint file from a good one."""
import glob
import os
import os.path as osp
import zipfile
from typing import Optional

# First bytes of a zip archive: torch.save's format since torch 1.6.
_ZIP_MAGIC = b'PK\x03\x04'


class DamagedCheckpointError(RuntimeError):
    """A checkpoint file that exists but cannot be read completely."""


def checkpoint_damage(path: str) -> Optional[str]:
    """Why ``path`` cannot be a complete ``torch.save`` file, or None.

    A cheap structural check that reads no tensors: the file is empty, or
    it is a zip archive (torch's format) whose central directory, written
    last, is missing (a truncated write) or that has no ``data.pkl``.
    Files in torch's legacy (non-zip) format pass; their damage shows when
    they are loaded.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
    """
    if osp.getsize(path) == 0:
        return 'the file is empty'
    with open(path, 'rb') as f:
        magic = f.read(len(_ZIP_MAGIC))
    if magic != _ZIP_MAGIC:
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        return f'its zip archive is incomplete ({e})'
    if not any(name.endswith('data.pkl') for name in names):
        return 'its zip archive has no data.pkl (not a torch checkpoint)'
    return None


def _is_verified_zip(path: str) -> bool:
    """Whether ``path`` is in torch's zip format and passes
    :func:`checkpoint_damage` (legacy files cannot be verified cheaply)."""
    with open(path, 'rb') as f:
        if f.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
            return False
    return checkpoint_damage(path) is None


def newest_complete_checkpoint(dirname: str,
                               exclude: str = '') -> Optional[str]:
    """The most recently modified ``*.pth`` in ``dirname`` (other than
    ``exclude``) that is a complete zip-format torch file (what mmengine
    writes), or None."""
    candidates = [
        p for p in glob.glob(osp.join(glob.escape(dirname), '*.pth'))
        if osp.isfile(p) and not (exclude and osp.exists(exclude)
                                  and osp.samefile(p, exclude))
    ]
    for path in sorted(candidates, key=os.path.getmtime, reverse=True):
        if _is_verified_zip(path):
            return path
    return None


def use_instead_hint(path: str) -> str:
    """One sentence naming the checkpoint to resume from instead of
    ``path`` (the newest complete one in its directory), or saying there
    is none."""
    dirname = osp.dirname(osp.abspath(path))
    other = newest_complete_checkpoint(dirname, exclude=path)
    if other is None:
        return (f'No complete checkpoint is left in {dirname}: train again '
                'without --resume.')
    return (f'The newest complete checkpoint in {dirname} is {other}: '
            f'resume with `--resume {other}`.')


def damaged_checkpoint_error(path: str,
                             reason: str) -> DamagedCheckpointError:
    """The error for the damaged ``path``: the file, why, and the one to
    use (:func:`use_instead_hint`)."""
    return DamagedCheckpointError(
        f'Cannot read the checkpoint {path}: {reason}. The file is damaged '
        'or incomplete, e.g. the process was killed while writing it. '
        f'{use_instead_hint(path)}')
