"""DDP over a model whose 4-d parameters are NHWC before DDP sees them."""
import torch
from mmengine.model import MMDistributedDataParallel

from yolox_mm.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class ChannelsLastDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` of ``module`` converted to
    ``torch.channels_last`` first.

    DDP lays out its gradient buckets after the parameters it is given. With
    :class:`~yolox_mm.engine.hooks.ChannelsLastHook` alone, the conversion
    comes after the wrap (mmengine's ``Runner`` wraps the model in
    ``__init__``, before any hook runs), so the buckets keep the NCHW
    layout of the parameters they were built from and a resumed run is not
    bitwise equal to the uninterrupted one. Converting before the wrap gives
    buckets of the NHWC layout that training then uses.

    Our launcher (``tools/train.py``, :func:`yolox_mm.utils.launch.
    prepare_launch`) chooses this wrapper when the config has a
    ``ChannelsLastHook`` and the run is distributed; directly:
    ``model_wrapper_cfg = dict(type='yolox_mm.engine.model_wrappers.
    ChannelsLastDistributedDataParallel')`` (the module path: mmengine's
    ``Runner`` looks wrappers up in its root registry).

    Args:
        module: The model (its parameters keep their identity).
        detect_anomalous_params: As mmengine's wrapper.
        **kwargs: ``torch.nn.parallel.DistributedDataParallel``'s arguments.
    """

    def __init__(self, module, detect_anomalous_params: bool = False,
                 **kwargs) -> None:
        module.to(memory_format=torch.channels_last)
        super().__init__(module=module,
                         detect_anomalous_params=detect_anomalous_params,
                         **kwargs)
