from .assigners import SimOTAAssigner

__all__ = ['SimOTAAssigner']
