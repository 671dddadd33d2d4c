"""Evaluation metrics of yolox_mm (in ``yolox_mm.registry.METRICS``)."""
from .duplicate_rate import DuplicateRateMetric, count_duplicates

__all__ = ['DuplicateRateMetric', 'count_duplicates']
