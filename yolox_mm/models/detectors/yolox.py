from mmdet.models.detectors.single_stage import SingleStageDetector

from yolox_mm.registry import MODELS
from ..layers import fuse_conv_bn
from ..utils import optimize_for_inference


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

    def optimize_for_inference(self, fuse_conv_bn: bool = True,
                               channels_last: bool = False) -> 'YOLOX':
        """Inference switches (BN folding, NHWC parameters), see
        :func:`yolox_mm.models.utils.optimize_for_inference`. Returns
        ``self`` in eval mode."""
        return optimize_for_inference(self, fuse_conv_bn=fuse_conv_bn,
                                      channels_last=channels_last)
