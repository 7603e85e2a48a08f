"""The measured sections of `make bench` (`python -m benchmarks.run`), in the order they run."""
