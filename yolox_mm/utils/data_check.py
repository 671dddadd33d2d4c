"""Fail fast, before a Runner is built, when a config's data is not on disk."""
import os.path as osp
from typing import Iterator, List, Tuple

from mmengine.config import Config, ConfigDict


def _datasets(node) -> Iterator[dict]:
    """Yield the innermost dataset configs (those with ``ann_file``) of a
    dataset config, walking through wrappers (``dataset=``,
    ``datasets=[...]``)."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _datasets(item)
        return
    if not isinstance(node, dict):
        return
    if 'ann_file' in node:
        yield node
    for key in ('dataset', 'datasets'):
        if key in node:
            yield from _datasets(node[key])


def missing_data_paths(cfg: Config,
                       loaders=('train_dataloader', 'val_dataloader',
                                'test_dataloader')) -> List[Tuple[str, str]]:
    """List the annotation files and image folders of ``cfg`` that do not
    exist.

    Args:
        cfg (Config): A detection config.
        loaders (Sequence[str]): The dataloader entries to check.

    Returns:
        list[tuple[str, str]]: ``(what, path)`` pairs, e.g.
        ``('train_dataloader annotation file', 'data/coco/annotations/
        instances_train2017.json')``; empty when everything is there.
    """
    missing = []
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not isinstance(loader_cfg, (dict, ConfigDict)):
            continue
        for ds in _datasets(loader_cfg.get('dataset')):
            root = ds.get('data_root') or ''
            ann = osp.join(root, ds['ann_file'])
            if ds['ann_file'] and not osp.isfile(ann):
                missing.append((f'{loader} annotation file', ann))
            prefix = (ds.get('data_prefix') or {}).get('img')
            if prefix is not None:
                img_dir = osp.join(root, prefix)
                if not osp.isdir(img_dir):
                    missing.append((f'{loader} image folder', img_dir))
    return list(dict.fromkeys(missing))


def check_data_paths(cfg: Config, loaders=('train_dataloader',
                                           'val_dataloader',
                                           'test_dataloader')) -> None:
    """Raise ``FileNotFoundError`` naming every missing data path of ``cfg``.

    The message lists the expected paths and how to change them
    (``--cfg-options``), so a missing COCO stops ``tools/train.py`` at once
    rather than deep inside a dataloader worker.
    """
    missing = missing_data_paths(cfg, loaders)
    if missing:
        lines = '\n'.join(f'  {what}: {path}' for what, path in missing)
        raise FileNotFoundError(
            'The dataset of this config is not on disk. Expected:\n'
            f'{lines}\n'
            'Put the data there (COCO: data/coco/annotations/instances_'
            '{train,val}2017.json and data/coco/{train,val}2017/), or point '
            'the config elsewhere, e.g. --cfg-options '
            'train_dataloader.dataset.dataset.data_root=/path/to/coco/ '
            'val_dataloader.dataset.data_root=/path/to/coco/ '
            'val_evaluator.ann_file=/path/to/coco/annotations/'
            'instances_val2017.json')
