"""Training hooks of yolox_mm (registered in ``yolox_mm.registry.HOOKS``)."""
from .deterministic_resume_hook import DeterministicResumeHook
from .yolox_mode_switch_hook import YOLOXModeSwitchHook

__all__ = ['DeterministicResumeHook', 'YOLOXModeSwitchHook']
