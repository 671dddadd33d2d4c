"""Inference-time switches of a yolox_mm detector (all optional, all off
unless asked for).

``optimize_for_inference(model, fuse_conv_bn=True, channels_last=False)``:

* ``fuse_conv_bn``: fold every BatchNorm into its convolution
  (:func:`yolox_mm.models.layers.fuse_conv_bn`): one kernel less per conv.
  Irreversible (the BN modules are gone), so only for a model that will not
  be trained again.
* ``channels_last``: store the parameters (and so the activations: oneDNN
  convolutions follow the weights' format) as NHWC (``torch.channels_last``).
  The same function; the convolutions run other kernels, so outputs change
  by float rounding only (measured on YOLOX-s 640 / nano 416, fused: largest
  difference of the raw head outputs 0.9e-4 / 2.8e-4 of their range, the
  same order as what ``fuse_conv_bn`` itself changes, 0.9e-4 / 4.1e-4).
  Measured latency at batch 1, 1 thread, fused model: -11 % (YOLOX-s 640)
  and -18 % (nano 416) (docs/benchmarks.md, section e). It makes training
  slower, so it is for inference only; ``model.to(memory_format=
  torch.contiguous_format)`` undoes it.

Used by ``tools/test.py --fuse-conv-bn --channels-last`` and the
benchmark's section e.
"""
import torch
from torch import nn

from .layers import fuse_conv_bn as _fuse_conv_bn


def optimize_for_inference(model: nn.Module,
                           fuse_conv_bn: bool = True,
                           channels_last: bool = False) -> nn.Module:
    """Apply the inference switches to ``model`` in place.

    Args:
        model (nn.Module): A detector (or any module holding
            :class:`~yolox_mm.models.layers.ConvBNAct` blocks).
        fuse_conv_bn (bool): Fold BatchNorms into convolutions. Defaults to
            True.
        channels_last (bool): Parameters in ``torch.channels_last`` memory
            format. Defaults to False.

    Returns:
        nn.Module: ``model``, in eval mode.
    """
    model.eval()
    if fuse_conv_bn:
        _fuse_conv_bn(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
