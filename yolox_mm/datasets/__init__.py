"""Datasets and data transforms of yolox_mm."""
from .checked_coco import CheckedCocoDataset
from .mix_image_dataset import YOLOXMixImageDataset
from .shared_collate import shared_pseudo_collate
from .transforms import CheckedLoadImageFromFile, MixUp, Mosaic

__all__ = [
    'CheckedCocoDataset', 'YOLOXMixImageDataset', 'CheckedLoadImageFromFile',
    'Mosaic', 'MixUp', 'shared_pseudo_collate'
]
