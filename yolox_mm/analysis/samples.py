"""One annotated image of a config's dataset as the network sees it at test
time (letterboxed input, GT boxes in input pixels), for the pictures of
:mod:`.assignment` and :mod:`.readme_pictures`."""
import copy
import os.path as osp
from typing import NamedTuple, Optional

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor

from yolox_mm.utils.type_name import type_name

SPLITS = ('train', 'val', 'test')


class Sample(NamedTuple):
    """Attributes:
        inputs (Tensor): ``[1, 3, H, W]`` after the data preprocessor.
        image (np.ndarray): ``[H, W, 3]`` uint8 BGR, the same input (pad
            included) as an image (YOLOX normalises nothing).
        gt_bboxes (Tensor): ``[G, 4]`` xyxy in input pixels.
        gt_labels (Tensor): ``[G]`` class indices.
        img_path (str): The image file.
        data_sample: mmdet ``DetDataSample`` (metainfo: ``scale_factor``,
            ``ori_shape`` ...).
    """
    inputs: Tensor
    image: np.ndarray
    gt_bboxes: Tensor
    gt_labels: Tensor
    img_path: str
    data_sample: object


def innermost_dataset_cfg(cfg: Config, split: str) -> dict:
    """The dataset config with ``ann_file`` inside ``<split>_dataloader``
    (through wrappers such as ``YOLOXMixImageDataset``).

    Raises:
        ValueError: for an unknown split or a loader without such dataset.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    node = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
    while isinstance(node, dict) and 'ann_file' not in node:
        node = node.get('dataset') or (node.get('datasets') or [None])[0]
    if not isinstance(node, dict):
        raise ValueError(f'{split}_dataloader of the config has no dataset '
                         'with an ann_file')
    return copy.deepcopy(node)


def annotated_test_pipeline(cfg: Config) -> list:
    """``cfg.test_pipeline`` with ``LoadAnnotations`` moved right after the
    image loading, so that ``Resize`` scales the boxes with the image."""
    steps = [dict(t) for t in cfg.test_pipeline]
    is_ann = [type_name(t['type']) == 'LoadAnnotations' for t in steps]
    rest = [t for t, a in zip(steps, is_ann) if not a]
    return rest[:1] + [dict(type='LoadAnnotations', with_bbox=True)] + \
        rest[1:]


def build_dataset(cfg: Config, split: str = 'val'):
    """The split's dataset with :func:`annotated_test_pipeline` (no
    augmentation)."""
    from mmengine.registry import init_default_scope

    from yolox_mm.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'yolox_mm'))
    ds_cfg = innermost_dataset_cfg(cfg, split)
    ds_cfg['pipeline'] = annotated_test_pipeline(cfg)
    return DATASETS.build(ds_cfg)


def find_index(dataset, image: Optional[str]) -> int:
    """Index of the entry whose image file name is ``image`` (0 if None).

    Raises:
        KeyError: when no entry has that name (lists a few names).
    """
    if image is None:
        return 0
    names = [osp.basename(dataset.get_data_info(i)['img_path'])
             for i in range(len(dataset))]
    name = osp.basename(image)
    if name not in names:
        raise KeyError(f'no image {name!r} in the dataset; it has '
                       f'{names[:5]}{" ..." if len(names) > 5 else ""}')
    return names.index(name)


def load_sample(model: torch.nn.Module, dataset, index: int) -> Sample:
    """``dataset[index]`` through the model's data preprocessor."""
    from mmengine.dataset import pseudo_collate
    data = model.data_preprocessor(pseudo_collate([dataset[index]]), False)
    inputs, sample = data['inputs'], data['data_samples'][0]
    boxes = sample.gt_instances.bboxes
    boxes = getattr(boxes, 'tensor', boxes).float()
    image = inputs[0].permute(1, 2, 0).clamp(0, 255).byte().numpy()
    return Sample(inputs, np.ascontiguousarray(image), boxes,
                  sample.gt_instances.labels.long(), sample.img_path, sample)
