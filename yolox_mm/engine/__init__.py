"""Engine components (hooks) of yolox_mm."""
from .hooks import YOLOXModeSwitchHook

__all__ = ['YOLOXModeSwitchHook']
