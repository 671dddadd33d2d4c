from .assigners import SimOTAAssigner
from .coders import YOLOXBBoxCoder

__all__ = ['SimOTAAssigner', 'YOLOXBBoxCoder']
