"""Engine components (hooks) of yolox_mm."""
from .hooks import DeterministicResumeHook, YOLOXModeSwitchHook

__all__ = ['DeterministicResumeHook', 'YOLOXModeSwitchHook']
