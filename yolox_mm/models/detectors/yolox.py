from mmdet.models.detectors.single_stage import SingleStageDetector

from yolox_mm.registry import MODELS
from ..layers import fuse_conv_bn


@MODELS.register_module()
class YOLOX(SingleStageDetector):
    """YOLOX: Exceeding YOLO Series in 2021 (arXiv 2107.08430).

    ``backbone -> neck -> bbox_head`` with mmdet's single-stage detector
    plumbing (``loss``, ``predict``, ``_forward``); all behaviour lives in
    the components (:class:`~yolox_mm.models.CSPDarknet`,
    :class:`~yolox_mm.models.YOLOXPAFPN`,
    :class:`~yolox_mm.models.YOLOXHead`).
    """

    def fuse_conv_bn(self) -> 'YOLOX':
        """Fold every BatchNorm into its convolution for inference (same
        detections, fewer kernels; see :func:`yolox_mm.models.layers.
        fuse_conv_bn`). Returns ``self`` in eval mode."""
        return fuse_conv_bn(self)
