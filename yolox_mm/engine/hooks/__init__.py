"""Training hooks of yolox_mm (registered in ``yolox_mm.registry.HOOKS``)."""
from .yolox_mode_switch_hook import YOLOXModeSwitchHook

__all__ = ['YOLOXModeSwitchHook']
