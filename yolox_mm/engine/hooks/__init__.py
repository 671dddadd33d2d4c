"""Training hooks of yolox_mm (registered in ``yolox_mm.registry.HOOKS``)."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .channels_last_hook import ChannelsLastHook
from .check_finite_loss_hook import CheckFiniteLossHook
from .deterministic_resume_hook import DeterministicResumeHook
from .freeze_except_hook import FreezeExceptHook, freeze_except
from .yolox_mode_switch_hook import YOLOXModeSwitchHook

__all__ = [
    'AtomicCheckpointHook', 'ChannelsLastHook', 'CheckFiniteLossHook',
    'DeterministicResumeHook', 'FreezeExceptHook', 'YOLOXModeSwitchHook',
    'freeze_except'
]
