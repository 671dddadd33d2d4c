"""Analysis and benchmarking code behind ``tools/analysis_tools``."""
