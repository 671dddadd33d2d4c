"""Engine components (hooks, model wrappers) of yolox_mm."""
from .hooks import (AtomicCheckpointHook, CheckFiniteLossHook,
                    DeterministicResumeHook, YOLOXModeSwitchHook)
from .model_wrappers import ChannelsLastDistributedDataParallel

__all__ = [
    'AtomicCheckpointHook', 'CheckFiniteLossHook', 'DeterministicResumeHook',
    'YOLOXModeSwitchHook', 'ChannelsLastDistributedDataParallel'
]
