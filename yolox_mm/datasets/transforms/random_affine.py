"""mmdet's ``RandomAffine``, skipped for samples on which :class:`Mosaic`
was not applied (Megvii ``MosaicDetection.__getitem__``: the random affine
belongs to the mosaic branch; a sample without mosaic only goes through
``TrainTransform``: HSV, flip, resize and pad).

Registered as ``RandomAffine`` in the ``yolox_mm`` scope, so the configs
and ``YOLOXModeSwitchHook`` (which skips transforms by type name) keep the
name. On every other sample it *is* mmdet's transform: same arguments, same
random draws, same output.
"""
from mmdet.datasets.transforms import RandomAffine as MMDetRandomAffine

from yolox_mm.registry import TRANSFORMS
from .mosaic import MOSAIC_SKIPPED


@TRANSFORMS.register_module()
class RandomAffine(MMDetRandomAffine):
    """mmdet 3.3.0 ``RandomAffine`` (all arguments as there), except that a
    sample with ``results[MOSAIC_SKIPPED]`` true (set by :class:`Mosaic`
    with ``prob < 1``) is returned unchanged, without random draws: its
    image is a single, un-tiled picture, which the mosaic-sized
    ``border`` (``-img_scale / 2``) would crop to nothing."""

    def transform(self, results: dict) -> dict:
        if results.get(MOSAIC_SKIPPED, False):
            return results
        return super().transform(results)
