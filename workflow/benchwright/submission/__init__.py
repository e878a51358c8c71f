"""MLPerf submission bundles: the inference and training trees of ../shared/docs/mlperf-formats.md."""
