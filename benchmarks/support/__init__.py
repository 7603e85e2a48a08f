"""What the benchmarks share: scratch databases, processes, receivers, load generators, CPU."""
