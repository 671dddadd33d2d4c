"""Engine components (hooks) of yolox_mm."""
from .hooks import (AtomicCheckpointHook, CheckFiniteLossHook,
                    DeterministicResumeHook, YOLOXModeSwitchHook)

__all__ = [
    'AtomicCheckpointHook', 'CheckFiniteLossHook', 'DeterministicResumeHook',
    'YOLOXModeSwitchHook'
]
