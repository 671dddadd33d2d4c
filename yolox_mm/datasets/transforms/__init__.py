"""Data transforms of yolox_mm (in ``yolox_mm.registry.TRANSFORMS``)."""
from .loading import CheckedLoadImageFromFile
from .mixup import MixUp
from .mosaic import Mosaic

__all__ = ['CheckedLoadImageFromFile', 'Mosaic', 'MixUp']
