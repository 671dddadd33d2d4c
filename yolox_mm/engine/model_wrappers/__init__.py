"""Model wrappers of yolox_mm (in ``yolox_mm.registry.MODEL_WRAPPERS``)."""
from .channels_last_ddp import ChannelsLastDistributedDataParallel

__all__ = ['ChannelsLastDistributedDataParallel']
