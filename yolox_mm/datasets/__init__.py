"""Datasets and data transforms of yolox_mm."""
from .mix_image_dataset import YOLOXMixImageDataset
from .transforms import MixUp, Mosaic

__all__ = ['YOLOXMixImageDataset', 'Mosaic', 'MixUp']
