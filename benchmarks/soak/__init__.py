"""The crash soak (`make soak`, `python -m benchmarks.soak`): every message reconciled."""
