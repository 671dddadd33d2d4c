"""Helpers shared by the tests and the benchmarks (the ``mmdet.testing``
pattern): reference models ours vs mmdet, synthetic inputs, calibration of
random weights and a peak-memory probe. Imported by tests and analysis code
only, never by ``yolox_mm/__init__``."""
