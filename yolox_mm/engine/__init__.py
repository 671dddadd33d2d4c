"""Engine components (hooks) of yolox_mm."""
from .hooks import (CheckFiniteLossHook, DeterministicResumeHook,
                    YOLOXModeSwitchHook)

__all__ = [
    'CheckFiniteLossHook', 'DeterministicResumeHook', 'YOLOXModeSwitchHook'
]
