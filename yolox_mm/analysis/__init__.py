"""Analysis and benchmarking code behind tools/analysis_tools (imported by tools and tests, never by yolox_mm/__init__)."""
