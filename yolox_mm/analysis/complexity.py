"""FLOPs and parameters of a detector at a fixed input shape.

Counted by mmengine's ``get_model_complexity_info`` (fvcore's counter: one
fused multiply-add counts as one "flop", i.e. the number is the MACs) on
``model(inputs)`` in ``mode='tensor'``: backbone, neck and head, without
decoding and NMS, for one ``[1, 3, H, W]`` zero image.

The YOLOX paper (table 2-4) and Megvii's README report GFLOPs as **2 x
MACs** (Megvii ``yolox/utils/model_utils.py::get_model_info``: thop MACs
times 2): YOLOX-s 26.8 G at 640, YOLOX-nano 1.08 G at 416. Both numbers are
returned. mmdet's ``tools/analysis_tools/get_flops.py`` needs the config's
val data on disk and measures at the size of its first images; here the
shape is given, so COCO need not be on disk.
"""
from typing import NamedTuple, Optional, Tuple

import torch
from mmengine.config import Config


class Complexity(NamedTuple):
    """Attributes:
        input_shape (tuple[int, int]): ``(H, W)`` counted.
        macs (int): Multiply-adds (mmengine's ``flops``).
        params (int): Parameters.
        table (str): mmengine's per-module table (empty unless asked).
    """
    input_shape: Tuple[int, int]
    macs: int
    params: int
    table: str

    @property
    def gflops(self) -> float:
        """``2 * macs / 1e9``: the paper's and Megvii's GFLOPs."""
        return 2 * self.macs / 1e9


def default_input_shape(cfg: Config) -> Tuple[int, int]:
    """``(H, W)`` of the config's ``img_scale`` (given as ``(w, h)``), else
    ``(640, 640)``."""
    scale = cfg.get('img_scale')
    if scale is None:
        return (640, 640)
    return (int(scale[1]), int(scale[0]))


def build_model(cfg: Config) -> torch.nn.Module:
    """The detector of ``cfg`` in eval mode, randomly initialised (FLOPs do
    not depend on the weights)."""
    from mmengine.registry import init_default_scope

    from yolox_mm.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'yolox_mm'))
    return MODELS.build(cfg.model).eval()


def model_complexity(model: torch.nn.Module,
                     input_shape: Tuple[int, int],
                     show_table: bool = False,
                     max_depth: Optional[int] = 3) -> Complexity:
    """Count the multiply-adds and parameters of ``model`` on one ``[1, 3,
    H, W]`` zero image.

    Args:
        model (nn.Module): A detector (``forward(inputs)`` returns its raw
            outputs) or any module taking one image tensor.
        input_shape (tuple[int, int]): ``(H, W)``.
        show_table (bool): Also return mmengine's per-module table.
        max_depth (int, optional): Depth of that table.

    Returns:
        Complexity: the counts.

    Raises:
        ValueError: for a shape that is not two positive integers.
    """
    from mmengine.analysis import get_model_complexity_info
    if len(input_shape) != 2 or min(input_shape) <= 0:
        raise ValueError(f'input_shape must be (H, W) > 0, got {input_shape}')
    h, w = (int(s) for s in input_shape)
    inputs = torch.zeros((1, 3, h, w))
    with torch.no_grad():
        info = get_model_complexity_info(model, inputs=(inputs, ),
                                         show_table=show_table,
                                         show_arch=False)
    table = info['out_table'] if show_table else ''
    return Complexity((h, w), int(info['flops']), int(info['params']), table)
