"""Every config under ``configs/`` resolved as our launchers read it
(``yolox_mm.utils.launch.read_config``: ``yolox_mm::`` bases understood),
written one text file per config: a snapshot to compare a refactoring of
the configs against (the resolved dicts must not change).

    PYTHONPATH=$PWD python -m tests.resolved_configs OUT_DIR
    PYTHONPATH=$PWD python -m tests.resolved_configs OUT_DIR --compare OLD

Each file holds ``pprint.pformat(cfg.to_dict())``: keys sorted, tuples kept
apart from lists, so two files are equal exactly when the two configs
resolve to the same dict. ``--compare OLD`` prints, for each config whose
text differs from ``OLD``'s, the keys that differ (``a.b[0].c: old ->
new``) and exits with 1 if any does.
"""
import argparse
import ast
import os
import os.path as osp
import pprint
import sys
from pathlib import Path
from typing import Any, Dict, List

from yolox_mm.utils.launch import read_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / 'configs'


def config_paths(config_dir: Path = CONFIG_DIR) -> List[str]:
    """Every ``*.py`` under ``config_dir`` (bases, custom and deploy
    configs included), relative to it, sorted."""
    return sorted(p.relative_to(config_dir).as_posix()
                  for p in config_dir.rglob('*.py')
                  if '__pycache__' not in p.parts)


def resolved_text(path: str) -> str:
    """The config at ``path``, resolved, as sorted ``pprint`` text."""
    return pprint.pformat(read_config(path).to_dict(), width=79) + '\n'


def snapshot(out_dir: str, config_dir: Path = CONFIG_DIR) -> Dict[str, str]:
    """Write :func:`resolved_text` of every config to ``out_dir`` (the
    relative path with ``/`` as ``__``, ``.txt``); returns name -> text."""
    os.makedirs(out_dir, exist_ok=True)
    texts = {}
    for rel in config_paths(config_dir):
        name = rel.replace('/', '__')[:-len('.py')] + '.txt'
        texts[name] = resolved_text(str(config_dir / rel))
        with open(osp.join(out_dir, name), 'w', encoding='utf-8') as f:
            f.write(texts[name])
    return texts


def differing(new: Dict[str, str], old_dir: str) -> List[str]:
    """Names whose text differs from (or is missing in) ``old_dir``, and
    names of ``old_dir`` missing in ``new``."""
    old = {p.name: p.read_text(encoding='utf-8')
           for p in Path(old_dir).glob('*.txt')}
    return sorted(n for n in set(old) | set(new) if old.get(n) != new.get(n))


def changed_keys(old: Any, new: Any, path: str = '') -> List[str]:
    """``path: old -> new`` for every leaf where two resolved dicts differ
    (``'<absent>'`` for a missing key)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [line for k in sorted(set(old) | set(new), key=str)
                for line in changed_keys(old.get(k, '<absent>'),
                                         new.get(k, '<absent>'),
                                         f'{path}.{k}' if path else str(k))]
    if (isinstance(old, (list, tuple)) and type(old) is type(new)
            and len(old) == len(new)):
        return [line for i, (a, b) in enumerate(zip(old, new))
                for line in changed_keys(a, b, f'{path}[{i}]')]
    return [] if old == new else [f'{path}: {old!r} -> {new!r}']


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir')
    parser.add_argument('--compare', metavar='OLD_DIR')
    args = parser.parse_args()
    texts = snapshot(args.out_dir)
    sys.stdout.write(f'{len(texts)} configs resolved into {args.out_dir}\n')
    if args.compare is None:
        return 0
    changed = differing(texts, args.compare)
    for name in changed:
        old_file = Path(args.compare) / name
        old = old_file.read_text(encoding='utf-8') if old_file.exists() \
            else '{}'
        new = texts.get(name, '{}')
        sys.stdout.write(f'{name}:\n')
        for line in changed_keys(ast.literal_eval(old),
                                 ast.literal_eval(new)):
            sys.stdout.write(f'    {line}\n')
    sys.stdout.write(f'{len(texts) - len(changed)} identical, '
                     f'{len(changed)} differ\n')
    return 1 if changed else 0


if __name__ == '__main__':
    sys.exit(main())
