"""Data transforms of yolox_mm (in ``yolox_mm.registry.TRANSFORMS``)."""
from .mixup import MixUp
from .mosaic import Mosaic

__all__ = ['Mosaic', 'MixUp']
