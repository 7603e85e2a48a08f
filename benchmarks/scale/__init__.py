"""Months in production: `make bench-scale` (python -m benchmarks.scale) and `make bench-steady`."""
