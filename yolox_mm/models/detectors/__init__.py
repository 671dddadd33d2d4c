from .yolox import YOLOX

__all__ = ['YOLOX']
