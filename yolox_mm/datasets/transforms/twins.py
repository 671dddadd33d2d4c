"""The exact faster twins of mmdet transforms: same arguments, random draws
and output, bit for bit, in less time."""
from yolox_mm.utils.type_name import type_name

#: mmdet transform type -> our twin (a subclass with the same arguments):
#: :class:`~yolox_mm.datasets.transforms.LUTYOLOXHSVRandomAug`,
#: :class:`~yolox_mm.datasets.transforms.ContiguousRandomFlip`,
#: :class:`~yolox_mm.datasets.transforms.PlanarPackDetInputs`.
EXACT_TWINS = {'YOLOXHSVRandomAug': 'LUTYOLOXHSVRandomAug',
               'RandomFlip': 'ContiguousRandomFlip',
               'PackDetInputs': 'PlanarPackDetInputs'}


def with_exact_twin(transform_cfg: dict) -> dict:
    """A copy of ``transform_cfg`` whose ``type`` is its twin's (any scope
    prefix of the mmdet name) if :data:`EXACT_TWINS` has one; other configs
    are copied unchanged."""
    cfg = dict(transform_cfg)
    cfg['type'] = EXACT_TWINS.get(type_name(cfg['type']), cfg['type'])
    return cfg
