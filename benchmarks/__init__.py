"""seqsweep benchmarks: `python -m benchmarks.run` measures the issue-7 ratios and prints one table."""
