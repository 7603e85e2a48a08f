"""The benchmarks behind `make bench`, `make bench-scale`, `make bench-steady` and `make soak`."""
