"""Data transforms of yolox_mm (in ``yolox_mm.registry.TRANSFORMS``)."""
from .flip import ContiguousRandomFlip
from .fused_mosaic import FusedMosaicAffineMixUp, fuse_pipeline
from .hsv_lut import LUTYOLOXHSVRandomAug
from .loading import CheckedLoadImageFromFile
from .mixup import MixUp
from .mosaic import MOSAIC_SKIPPED, Mosaic
from .packing import PlanarPackDetInputs
from .random_affine import RandomAffine

__all__ = [
    'CheckedLoadImageFromFile', 'Mosaic', 'MixUp', 'RandomAffine',
    'MOSAIC_SKIPPED', 'FusedMosaicAffineMixUp', 'fuse_pipeline',
    'LUTYOLOXHSVRandomAug', 'ContiguousRandomFlip', 'PlanarPackDetInputs'
]
